-- The calls of one tenant, one row per call with its final outcome (docs/metrics.md,
-- "Bridged calls"): the caller's own accounting row (lake table calls) with the legs the
-- media server placed for it through Kamailio (lake table legs, linked by
-- origin_call_id = call_id) folded in. The lake only appends: a leg's row may land before
-- or after its caller's, so the outcome is derived here, at read time, never written.
-- A call without legs is its accounting row unchanged.
-- Placeholders filled by pipeline.warehouse (str.format, so no braces in comments): columns
-- (the call columns of the view), calls_files, legs_files (validated lake paths) and scope
-- (a viewer's scope, or nothing).
create view calls as
with caller_rows as (
    select
        {columns}
    from read_parquet(
        {calls_files},
        hive_partitioning = true,
        hive_types = {{'tenant': varchar, 'date': date}}
    )
),

leg_rows as (
    select
        origin_call_id,
        acc_id,
        callee,
        answered_by,
        started_at,
        answered_at,
        talk_seconds,
        disposition
    from read_parquet(
        {legs_files},
        hive_partitioning = true,
        hive_types = {{'tenant': varchar, 'date': date}}
    )
),

-- One row per call that has legs. The outcome is the first leg a person answered; else
-- the first leg that reached a mailbox (the callee's own rules forwarded it); else the
-- last leg tried (busy, missed, cancelled, failed): what the caller finally got.
leg_outcomes as (
    select
        origin_call_id,
        arg_min(answered_by, answered_at) filter (where disposition = 'answered') as person,
        min(answered_at) filter (where disposition = 'answered') as person_answered_at,
        sum(talk_seconds) filter (where disposition = 'answered') as person_talk_seconds,
        arg_min(answered_by, answered_at) filter (where disposition = 'voicemail') as mailbox,
        min(answered_at) filter (where disposition = 'voicemail') as mailbox_answered_at,
        sum(talk_seconds) filter (where disposition = 'voicemail') as mailbox_talk_seconds,
        arg_max(disposition, (started_at, acc_id)) as last_disposition,
        -- everyone a leg rang: a plain user sees the calls that rang them (scope)
        list(distinct callee) filter (where callee is not null) as rang
    from leg_rows
    group by origin_call_id
),

outcomes as (
    select
        c.*,
        l.origin_call_id is not null as has_legs,
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
        l.last_disposition,
        coalesce(l.rang, []) as rang
    from caller_rows as c
    left join leg_outcomes as l on l.origin_call_id = c.call_id
),

final as (
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
        tenant,
        date,
        rang
    from outcomes
)

select
    {columns}
from final
{scope}
