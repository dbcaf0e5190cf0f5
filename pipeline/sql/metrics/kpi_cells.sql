-- KPI family "calls" (docs/metrics.md, version in pipeline.metrics.METRICS_VERSION),
-- stage 1 of two: the calls in scope grouped into cells by every column a KPI of
-- kpis.sql tests, with their count and sums. Same results as filtering every call
-- ~25 times, at ~60% of the cost (the cells are a few thousand, not 800,000 rows).
-- {cell_keys} (pipeline.metrics): extension, did, rule (one result serves the
-- ungrouped KPIs and the tables by extension, main number and rule), or a time
-- bucket as grp.
--
-- The whole UTC days of the period in [$rolled_from, $live) come from compaction's rollup
-- of each closed day's calls (kpi_cells_day.sql), classified by the same scoped_calls.sql
-- (placeholder "rolled_cells": pipeline.call_rollups; a tenant-wide, unfiltered page by
-- extension, main number and rule only, else no rows and both are the period's start);
-- the calls before and after them from the page's rows.
with scoped as (
    {scoped_calls}
),

rolled as (
    {rolled_cells}
),

-- the page's calls outside the rolled-up days, each a cell of one call
page_cells as (
    select
        *,
        disposition = 'cancelled' and ring_seconds < $short_abandon_seconds as is_short_abandon,
        1 as n,
        ring_seconds as ring_sum,
        ring_seconds as ring_max,
        talk_seconds as talk_sum
    from scoped
    where started_at < $rolled_from or started_at >= $live
),

final as (
    select
        {cell_keys},
        direction,
        disposition,
        is_offered,
        is_answered,
        hours_class,
        is_short_abandon,
        cast(sum(n) as bigint) as n,
        sum(ring_sum) as ring_sum,
        max(ring_max) as ring_max,
        sum(talk_sum) as talk_sum
    from (select * from page_cells union all by name select * from rolled)
    group by all
)

select * from final
