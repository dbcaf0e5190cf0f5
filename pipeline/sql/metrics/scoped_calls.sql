-- Staging: the calls in scope (period + filters) with the derived columns every
-- metric shares: the base rows (base_calls.sql inlined, or the page's page_calls)
-- cut to the period's instants [$start, $end), classified. Only renames and
-- classifications here; no aggregation. Placeholder filled by pipeline.metrics:
-- {handling_extension} (the expression pipeline.filters uses for the drill-down).
-- Bound: $start, $end, $open_frames.
select
    *,
    -- offered: calls that rang the tenant (inbound, internal), blocked ones excluded
    direction in ('inbound', 'internal') and disposition <> 'blocked' as is_offered,
    disposition = 'answered' as is_answered,
    {handling_extension} as extension,
    case when direction = 'inbound' then callee end as did,
    -- open/after hours: inbound calls a rule decided; see docs/metrics.md
    case
        when direction <> 'inbound' or rule is null then 'unclassified'
        when frame is not null and list_contains($open_frames, frame) then 'open'
        else 'after'
    end as hours_class,
    coalesce(caller_digits <> '', false) as is_external_caller
from {base_calls}
where started_at >= $start and started_at < $end
