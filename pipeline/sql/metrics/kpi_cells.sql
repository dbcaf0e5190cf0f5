-- KPI family "calls" (docs/metrics.md, version in pipeline.metrics.METRICS_VERSION),
-- stage 1 of two: the calls in scope grouped into cells by every column a KPI of
-- kpis.sql tests, with their count and sums. Same results as filtering every call
-- ~25 times, at ~60% of the cost (the cells are a few thousand, not 800,000 rows).
-- {cell_keys} (pipeline.metrics): extension, did, rule (one result serves the
-- ungrouped KPIs and the tables by extension, main number and rule), or a time
-- bucket as grp.
with scoped as (
    {scoped_calls}
),

final as (
    select
        {cell_keys},
        direction,
        disposition,
        is_offered,
        is_answered,
        hours_class,
        disposition = 'cancelled' and ring_seconds < $short_abandon_seconds as is_short_abandon,
        count(*) as n,
        sum(ring_seconds) as ring_sum,
        max(ring_seconds) as ring_max,
        sum(talk_seconds) as talk_sum
    from scoped
    group by all
)

select * from final
