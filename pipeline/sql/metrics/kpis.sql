-- KPI family "calls" (docs/metrics.md, version in pipeline.metrics.METRICS_VERSION).
-- One row per group ({group_key}: a whitelisted expression, 'all' when ungrouped).
with scoped as (
    {scoped_calls}
),

grouped as (
    select
        {group_key} as grp,
        count(*) as calls,
        count(*) filter (where is_offered) as offered,
        count(*) filter (where is_offered and is_answered) as answered,
        count(*) filter (where is_offered and not is_answered) as missed,
        count(*) filter (where is_offered and disposition = 'cancelled') as abandoned_in_ring,
        count(*) filter (
            where is_offered and disposition = 'cancelled' and ring_seconds < $short_abandon_seconds
        ) as abandoned_short,
        count(*) filter (where is_offered and disposition = 'voicemail') as to_voicemail,
        count(*) filter (where disposition = 'blocked') as blocked,
        avg(ring_seconds) filter (where is_offered and is_answered) as avg_ring_answered,
        max(ring_seconds) filter (where is_offered and is_answered) as max_ring_answered,
        avg(talk_seconds) filter (where is_answered) as avg_talk,
        coalesce(sum(talk_seconds), 0) as total_talk,
        count(*) filter (where direction = 'inbound') as inbound,
        count(*) filter (where direction = 'outbound') as outbound,
        count(*) filter (where direction = 'internal') as internal,
        count(*) filter (where disposition = 'answered') as disposition_answered,
        count(*) filter (where disposition = 'missed') as disposition_missed,
        count(*) filter (where disposition = 'busy') as disposition_busy,
        count(*) filter (where disposition = 'cancelled') as disposition_cancelled,
        count(*) filter (where disposition = 'failed') as disposition_failed,
        count(*) filter (where disposition = 'blocked') as disposition_blocked,
        count(*) filter (where disposition = 'voicemail') as disposition_voicemail,
        count(*) filter (where hours_class = 'open') as open_hours_calls,
        count(*) filter (
            where hours_class = 'open' and is_offered and not is_answered
        ) as open_hours_missed,
        count(*) filter (where hours_class = 'after') as after_hours_calls,
        count(*) filter (
            where hours_class = 'after' and is_offered and not is_answered
        ) as after_hours_missed
    from scoped
    group by grp
),

final as (
    select
        grp,
        calls,
        offered,
        answered,
        missed,
        abandoned_in_ring,
        abandoned_short,
        to_voicemail,
        blocked,
        answered / nullif(offered, 0) as answer_rate,
        avg_ring_answered,
        max_ring_answered,
        avg_talk,
        total_talk,
        inbound,
        outbound,
        internal,
        disposition_answered,
        disposition_missed,
        disposition_busy,
        disposition_cancelled,
        disposition_failed,
        disposition_blocked,
        disposition_voicemail,
        open_hours_calls,
        open_hours_missed,
        after_hours_calls,
        after_hours_missed
    from grouped
)

select * from final
order by grp nulls last
