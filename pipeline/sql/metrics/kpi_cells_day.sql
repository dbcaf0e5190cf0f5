-- Rollup of kpi_cells.sql for one closed UTC day (pipeline.call_rollups, written by
-- compaction): every call of the tenant that started that day, grouped by every column a
-- cell of kpi_cells.sql is derived from, with the short abandons at the rollup's threshold
-- (a page with another threshold computes its cells). Not by hour: an hour's calls are
-- nearly all different cells (~470,000 hourly cells for a month of 820,000 calls at 10 M
-- a year, 51,723 daily ones). Placeholder: handling_extension (pipeline.filters).
-- Bound: $day, $day_start, $next, $short_abandon_seconds.
select
    $day_start as day_at,
    {handling_extension} as handling,
    case when direction = 'inbound' then callee end as callee,
    rule,
    frame,
    direction,
    disposition,
    disposition = 'cancelled' and ring_seconds < $short_abandon_seconds as is_short_abandon,
    count(*) as n,
    sum(ring_seconds) as ring_sum,
    max(ring_seconds) as ring_max,
    sum(talk_seconds) as talk_sum
from calls
where date = $day and started_at >= $day_start and started_at < $next
group by all
