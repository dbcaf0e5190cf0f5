-- Staging: the calls of a scope with the two derived columns that cost per row
-- (the wall-clock time in the tenant's zone, the caller's number as digits).
-- Only renames, casts and those conversions; no aggregation and no parameter of
-- a metric, so the same rows serve every metric of a page: pipeline.metrics.prepare
-- keeps them once as page_calls (the period and the previous one), else this is
-- inlined. Cheap classifications are in scoped_calls.sql.
-- Placeholders filled by pipeline.metric_engine: where (a compiled CallFilter with
-- named parameters), caller_digits (the expression pipeline.filters uses for the
-- caller drill-down), zone_hours and local_start (below). Bound: $tz, $zone_from,
-- $zone_to (the scope's instants).
--
-- The wall-clock time is not converted row by row: zone_hours.sql holds each UTC
-- hour's offset, and local_start (pipeline.metric_engine.LOCAL_TIME) adds it to the
-- instant.
with zone_hours as (
    {zone_hours}
)

select
    acc_id,
    call_id,
    direction,
    disposition,
    caller,
    caller_name,
    callee,
    answered_by,
    started_at,
    ended_at,
    ring_seconds,
    talk_seconds,
    rule,
    frame,
    -- wall-clock start in the tenant's zone (a naive timestamp)
    {local_start} as local_start,
    -- digits of an inbound caller's number (null otherwise: only inbound callers are
    -- external callers, so the regular expression runs for those rows only)
    case when direction = 'inbound' then {caller_digits} end as caller_digits
from calls
left join zone_hours as z on z.utc_hour = epoch_us(started_at) // 3600000000
where {where}
