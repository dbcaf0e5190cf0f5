-- The path of each call through the media server, in words, from its steps
-- (lake table call_steps, switchboard.call_steps) and the menus' names (temp table
-- attendant_names, filled from the provisioning store by pipeline.history.name_menus;
-- a menu without a name there reads "menu <id>"). One row per call that has steps:
-- " → Sales menu → 1 → 102 (answered)". The call_history view puts where the call came in
-- ("Main number") in front. A bridge's result is attached to its target with a space;
-- bridge_ended, hold and unhold say nothing about the path and are left out.
--
-- Two statements, filled by pipeline.warehouse (str.format, so no braces in comments).
-- The table macro call_path_templates(first_day, last_day) builds the paths of the
-- steps of those UTC days with each menu as a token (chr(1) id chr(2)), not its name:
-- the names are the provisioning store's now, so call_history puts them in, for the
-- rows a query shows only. Compaction writes each closed day's templates once (the
-- calls whose first step is that day: pipeline.compaction, rollup call_paths); the
-- view call_paths reads those (the rolled placeholder, a relation of call_id and
-- template) and builds only the calls whose first step is on or after the day the
-- rollups end, reading their steps from the day before (the live placeholder: those
-- templates with first_at, or no rows when a narrowed connection's days are all rolled).
create or replace macro call_path_templates(first_day, last_day) as table
with named_steps as (
    select
        call_id,
        batch_id,
        seq,
        "at",
        kind,
        key,
        target,
        outcome,
        chr(1) || attendant_id || chr(2) as menu
    from call_steps
    where "date" between first_day and last_day
),

batches as (
    select
        batch_id,
        min("at") as batch_at
    from named_steps
    group by batch_id
),

words as (
    select
        s.call_id,
        s."at",
        b.batch_at,
        s.batch_id,
        s.seq,
        case s.kind
            when 'menu_entered' then s.menu
            when 'menu_key' then s.key
            when 'menu_invalid' then 'invalid ' || coalesce(s.key, '?')
            when 'menu_timeout' then 'no input'
            when 'menu_hangup' then 'hung up'
            when 'announcement' then replace(coalesce(s.target, 'announcement'), ':', ' ')
            when 'voicemail' then 'voicemail ' || coalesce(split_part(s.target, ':', 2), '')
            when 'queue' then 'queue ' || coalesce(split_part(s.target, ':', 2), '?')
            when 'bridge_attempt' then coalesce(split_part(s.target, ':', 2), '?')
            when 'bridge_answered' then '(answered)'
            when 'bridge_failed' then '(' || replace(coalesce(s.outcome, 'failed'), '_', ' ') || ')'
            when 'hangup' then 'ended'
        end as word,
        s.kind in ('bridge_answered', 'bridge_failed') as attached
    from named_steps as s
    inner join batches as b on b.batch_id = s.batch_id
),

final as (
    select
        call_id,
        -- every step, worded or not: the day a call's rollup belongs to
        min("at") as first_at,
        string_agg(
            case when attached then ' ' else ' → ' end || word,
            ''
            order by batch_at, batch_id, seq
        ) filter (where word is not null) as template
    from words
    group by call_id
    having count(word) > 0
)

select * from final;

-- "not materialized": DuckDB would otherwise build each part whole, before a query's
-- date filter reaches it (call_history_of_days reads a few days' rollup files).
create view call_paths as
with rolled as not materialized (
    select
        call_id,
        template,
        "date"
    from {rolled}
),

live as not materialized (
    select
        call_id,
        template,
        cast(first_at as date) as "date"  -- the UTC day (the session's zone), as rolled
    from {live}
),

final as not materialized (
    select * from rolled
    union all
    select * from live
)

select * from final
