-- The calls of one tenant, one row per call with its final outcome (docs/metrics.md,
-- "Bridged calls"): the caller's own accounting row (lake table calls) with the legs the
-- media server placed for it through Kamailio (lake table legs, linked by
-- origin_call_id = call_id) folded in. The lake only appends: a leg's row may land before
-- or after its caller's, so the outcome is derived here, at read time, never written.
-- A call without legs is its accounting row unchanged.
-- Placeholders filled by pipeline.warehouse (str.format, so no braces in comments): columns
-- (the call columns of the view), calls_source (the calls files' rows, pipeline.queries
-- files_source), legs_files (the legs' file list: pipeline.warehouse_sources.files_expr)
-- and scope (a viewer's scope, or nothing).
--
-- Cost: only a call a media application answered can have legs (answered_by is the
-- Request-URI user of the attendant aa-, the announcement ann- or the queue q-:
-- switchboard.attendants and the queue target). The calls are read as two disjoint scans,
-- those calls and the others, so the others (nearly every call) never meet the join and a
-- query reads only the columns it needs of them. A leg starts on its call's UTC day or the
-- next: joining on call_date = the call's date lets a query's date filter reach the legs'
-- partitions (equal join keys share filters), so a day's query reads two days of legs.
create view calls as
-- The calls a media application answered, the only ones that can have legs. Read twice
-- below; "not materialized" inlines it at each use, so each scan gets the query's own
-- filters (DuckDB would otherwise materialise it once, without the query's date filter).
with media_call_rows as not materialized (
    select
        *
    from {calls_source}
    where starts_with(answered_by, 'aa-')
        or starts_with(answered_by, 'ann-')
        or starts_with(answered_by, 'q-')
),

leg_rows as (
    -- each leg is a candidate for a call of its own day and of the day before; two scans,
    -- not one shared CTE, so that each gets its own partition filter (measured: over a
    -- not-materialized CTE the "date - 1" filter no longer prunes files, a day's query
    -- read every day of legs)
    select
        origin_call_id,
        acc_id,
        callee,
        answered_by,
        started_at,
        answered_at,
        talk_seconds,
        disposition,
        date as call_date
    from read_parquet(
        {legs_files},
        hive_partitioning = true,
        hive_types = {{'tenant': varchar, 'date': date}}
    )
    union all
    select
        origin_call_id,
        acc_id,
        callee,
        answered_by,
        started_at,
        answered_at,
        talk_seconds,
        disposition,
        date - 1 as call_date
    from read_parquet(
        {legs_files},
        hive_partitioning = true,
        hive_types = {{'tenant': varchar, 'date': date}}
    )
),

-- One row per call that has legs (inner join: a leg whose call is not a media call in the
-- view is not counted; aggregating after the join keeps the work to the calls a query
-- reads). The outcome is the first leg a person answered; else the first leg that reached
-- a mailbox (the callee's own rules forwarded it); else the last leg tried (busy, missed,
-- cancelled, failed): what the caller finally got.
leg_outcomes as (
    select
        c.acc_id,
        c.date,
        arg_min(l.answered_by, l.answered_at) filter (where l.disposition = 'answered') as person,
        min(l.answered_at) filter (where l.disposition = 'answered') as person_answered_at,
        sum(l.talk_seconds) filter (where l.disposition = 'answered') as person_talk_seconds,
        arg_min(l.answered_by, l.answered_at) filter (where l.disposition = 'voicemail')
            as mailbox,
        min(l.answered_at) filter (where l.disposition = 'voicemail') as mailbox_answered_at,
        sum(l.talk_seconds) filter (where l.disposition = 'voicemail') as mailbox_talk_seconds,
        arg_max(l.disposition, l.started_at) as last_disposition
    from media_call_rows as c
    inner join leg_rows as l
        on l.origin_call_id = c.call_id
        and l.call_date = c.date
    group by c.acc_id, c.date
),

other_calls as (
    select
        {columns}
    from {calls_source}
    -- the complement of the media calls' condition; written with coalesce, not "is null
    -- or not", which DuckDB evaluated 3x slower (measured on 2 M calls)
    where not coalesce(
        starts_with(answered_by, 'aa-')
        or starts_with(answered_by, 'ann-')
        or starts_with(answered_by, 'q-'),
        false
    )
),

media_calls as (
    select
        c.*,
        l.acc_id is not null as has_legs,
        case
            when l.person is not null then 'person'
            when l.mailbox is not null then 'mailbox'
            else 'none'
        end as reached,
        coalesce(l.person_answered_at, l.mailbox_answered_at) as leg_answered_at,
        l.person,
        l.mailbox,
        l.person_talk_seconds,
        l.mailbox_talk_seconds,
        l.last_disposition
    from media_call_rows as c
    left join leg_outcomes as l
        on l.acc_id = c.acc_id
        and l.date = c.date
),

bridged as (
    select
        call_id,
        acc_id,
        direction,
        caller,
        caller_name,
        callee,
        callee_name,
        case
            when not has_legs then answered_by
            when reached = 'person' then person
            when reached = 'mailbox' then mailbox
        end as answered_by,
        started_at,
        case when has_legs then leg_answered_at else answered_at end as answered_at,
        ended_at,
        -- the caller's wait: from their INVITE to a person or mailbox (menu included),
        -- or to the end when nobody was reached, as for any unanswered call
        case
            when not has_legs then ring_seconds
            when leg_answered_at is not null
                then (epoch_us(leg_answered_at) - epoch_us(started_at)) / 1000000.0
            else (epoch_us(ended_at) - epoch_us(started_at)) / 1000000.0
        end as ring_seconds,
        case
            when not has_legs then talk_seconds
            when reached = 'person' then person_talk_seconds
            when reached = 'mailbox' then mailbox_talk_seconds
            else 0.0
        end as talk_seconds,
        case
            when not has_legs then disposition
            when reached = 'person' then 'answered'
            when reached = 'mailbox' then 'voicemail'
            else last_disposition
        end as disposition,
        sip_code,
        sip_reason,
        rule,
        frame,
        recording_outcome,
        tenant,
        date
    from media_calls
),

final as (
    select
        {columns}
    from other_calls
    union all
    select
        {columns}
    from bridged
)

select
    {columns}
from final
{scope}
