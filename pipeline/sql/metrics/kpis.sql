-- KPI family "calls" (docs/metrics.md, version in pipeline.metrics.METRICS_VERSION),
-- stage 2 of two: each KPI over the cells of kpi_cells.sql (registered as kpi_cells
-- by pipeline.metrics). One row per group ({group_key}: a column of the cells, or
-- 'all' when ungrouped). A count of calls matching a condition is the sum of the
-- counts of the cells matching it; an average is a sum over a count.
with grouped as (
    select
        {group_key} as grp,
        cast(sum(n) as bigint) as calls,
        cast(coalesce(sum(n) filter (where is_offered), 0) as bigint) as offered,
        cast(coalesce(sum(n) filter (where is_offered and is_answered), 0) as bigint) as answered,
        cast(coalesce(sum(n) filter (where is_offered and not is_answered), 0) as bigint)
            as missed,
        cast(coalesce(sum(n) filter (where is_offered and disposition = 'cancelled'), 0) as bigint)
            as abandoned_in_ring,
        cast(coalesce(sum(n) filter (where is_offered and is_short_abandon), 0) as bigint)
            as abandoned_short,
        cast(coalesce(sum(n) filter (where is_offered and disposition = 'voicemail'), 0) as bigint)
            as to_voicemail,
        cast(coalesce(sum(n) filter (where disposition = 'blocked'), 0) as bigint) as blocked,
        sum(ring_sum) filter (where is_offered and is_answered)
            / sum(n) filter (where is_offered and is_answered) as avg_ring_answered,
        max(ring_max) filter (where is_offered and is_answered) as max_ring_answered,
        sum(talk_sum) filter (where is_answered) / sum(n) filter (where is_answered) as avg_talk,
        coalesce(sum(talk_sum), 0) as total_talk,
        cast(coalesce(sum(n) filter (where direction = 'inbound'), 0) as bigint) as inbound,
        cast(coalesce(sum(n) filter (where direction = 'outbound'), 0) as bigint) as outbound,
        cast(coalesce(sum(n) filter (where direction = 'internal'), 0) as bigint) as internal,
        cast(coalesce(sum(n) filter (where disposition = 'answered'), 0) as bigint)
            as disposition_answered,
        cast(coalesce(sum(n) filter (where disposition = 'missed'), 0) as bigint)
            as disposition_missed,
        cast(coalesce(sum(n) filter (where disposition = 'busy'), 0) as bigint)
            as disposition_busy,
        cast(coalesce(sum(n) filter (where disposition = 'cancelled'), 0) as bigint)
            as disposition_cancelled,
        cast(coalesce(sum(n) filter (where disposition = 'failed'), 0) as bigint)
            as disposition_failed,
        cast(coalesce(sum(n) filter (where disposition = 'blocked'), 0) as bigint)
            as disposition_blocked,
        cast(coalesce(sum(n) filter (where disposition = 'voicemail'), 0) as bigint)
            as disposition_voicemail,
        cast(coalesce(sum(n) filter (where hours_class = 'open'), 0) as bigint)
            as open_hours_calls,
        cast(coalesce(
            sum(n) filter (where hours_class = 'open' and is_offered and not is_answered), 0
        ) as bigint) as open_hours_missed,
        cast(coalesce(sum(n) filter (where hours_class = 'after'), 0) as bigint)
            as after_hours_calls,
        cast(coalesce(
            sum(n) filter (where hours_class = 'after' and is_offered and not is_answered), 0
        ) as bigint) as after_hours_missed
    from kpi_cells
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
