-- Menu funnel (docs/metrics.md "Menu funnel", version in pipeline.metrics.METRICS_VERSION).
-- Population: calls in scope (period + filters, like every metric) and their steps in the
-- call_steps view (switchboard.call_steps), menu steps only. Everything counts callers
-- (distinct calls), not steps: a caller who timed out twice in a menu is one timeout.
-- One row per (attendant_id, outcome, key): outcome "entered" (the menu played to the
-- caller), "key" (one row per key pressed, key = the key), "timeout" (no key before the
-- timeout at least once), "invalid" (a key the menu does not have, at least once),
-- "hangup" (hung up inside the menu). timeout/invalid/hangup rows are there for every
-- menu entered, with 0 when nobody; share = calls / entered (null when nobody entered).
-- The same selection as the drill-down key "menu" of pipeline.filters.
with scoped as (
    {scoped_calls}
),

menu_steps as (
    select
        s.call_id,
        s.attendant_id,
        case s.kind
            when 'menu_entered' then 'entered'
            when 'menu_key' then 'key'
            when 'menu_timeout' then 'timeout'
            when 'menu_invalid' then 'invalid'
            when 'menu_hangup' then 'hangup'
        end as outcome,
        case when s.kind = 'menu_key' then s.key end as key
    from call_steps as s
    where s.kind in ('menu_entered', 'menu_key', 'menu_timeout', 'menu_invalid', 'menu_hangup')
        and s.attendant_id is not null
        and s.call_id in (select call_id from scoped)
),

counted as (
    select
        attendant_id,
        outcome,
        key,
        count(distinct call_id) as calls
    from menu_steps
    group by attendant_id, outcome, key
),

entered as (
    select
        attendant_id,
        calls as entered
    from counted
    where outcome = 'entered'
),

-- every row the funnel shows: what happened, plus the fixed outcomes nobody reached
rows_shown as (
    select
        attendant_id,
        outcome,
        key
    from counted
    union
    select
        e.attendant_id,
        o.outcome,
        null as key
    from entered as e
    cross join (values ('timeout'), ('invalid'), ('hangup')) as o (outcome)
),

final as (
    select
        r.attendant_id,
        r.outcome,
        r.key,
        coalesce(c.calls, 0) as calls,
        e.entered,
        coalesce(c.calls, 0) / nullif(e.entered, 0) as share
    from rows_shown as r
    left join counted as c
        on c.attendant_id = r.attendant_id
        and c.outcome = r.outcome
        and c.key is not distinct from r.key
    left join entered as e on e.attendant_id = r.attendant_id
)

select * from final
order by
    attendant_id,
    list_position(['entered', 'key', 'timeout', 'invalid', 'hangup'], outcome),
    key nulls last
