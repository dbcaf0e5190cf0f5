-- Queue metrics family "queues" (docs/metrics.md, "Queue metrics"): one row per queue and
-- interval. A stint belongs to the interval of its entry, in the tenant's zone ($tz), cut
-- into $bucket_minutes (15, 30, 60; 0: one row per queue for the whole period).
-- Service level, variant SL-C: answered within T / (offered - short abandons - still waiting).
with stints as (
    {stints}
),

scoped as (
    select
        *,
        case
            when $bucket_minutes > 0
                then time_bucket(to_minutes($bucket_minutes::integer), timezone($tz, entered_at))
        end as interval_start
    from stints
    where entered_at >= $start
        and entered_at < $end
),

grouped as (
    select
        queue_id,
        interval_start,
        max(service_level_seconds) as service_level_seconds,
        max(short_abandon_seconds) as short_abandon_seconds,
        count(*) as offered,
        count(*) filter (where outcome = 'answered') as answered,
        count(*) filter (where outcome = 'abandoned') as abandoned,
        count(*) filter (
            where outcome = 'abandoned' and wait_seconds < short_abandon_seconds
        ) as short_abandoned,
        count(*) filter (where outcome = 'overflowed') as overflowed,
        count(*) filter (where outcome = 'exit_key') as exit_key,
        count(*) filter (where outcome = 'lost') as lost,
        count(*) filter (where outcome = 'waiting') as waiting,
        count(*) filter (
            where outcome = 'answered' and wait_seconds <= service_level_seconds
        ) as answered_within_t,
        avg(wait_seconds) filter (where outcome = 'answered') as asa,
        avg(wait_seconds) filter (where outcome <> 'waiting') as avg_wait,
        max(wait_seconds) filter (where outcome <> 'waiting') as longest_wait,
        avg(talk_seconds) filter (where talk_seconds is not null) as avg_talk,
        avg(wrap_seconds) filter (where talk_seconds is not null) as avg_wrapup,
        avg(talk_seconds + wrap_seconds) filter (where talk_seconds is not null) as aht
    from scoped
    group by queue_id, interval_start
),

final as (
    select
        queue_id,
        interval_start,
        offered,
        answered,
        abandoned,
        short_abandoned,
        overflowed,
        exit_key,
        lost,
        waiting,
        answered_within_t,
        answered_within_t / nullif(offered - short_abandoned - waiting, 0) as service_level,
        abandoned / nullif(offered, 0) as abandon_rate,
        asa,
        avg_wait,
        longest_wait,
        avg_talk,
        avg_wrapup,
        aht,
        service_level_seconds,
        short_abandon_seconds
    from grouped
)

select * from final
order by queue_id, interval_start nulls first
