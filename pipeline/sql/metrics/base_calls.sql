-- Staging: the calls of a scope with the two derived columns that cost per row
-- (the wall-clock time in the tenant's zone, the caller's number as digits).
-- Only renames, casts and those conversions; no aggregation and no parameter of
-- a metric, so the same rows serve every metric of a page: pipeline.metrics.prepare
-- keeps them once as page_calls (the period and the previous one), else this is
-- inlined. Cheap classifications are in scoped_calls.sql.
-- Placeholders filled by pipeline.metrics: {where} (a compiled CallFilter with
-- named parameters) and {caller_digits} (the expression pipeline.filters uses for
-- the caller drill-down). Bound: $tz, $zone_from, $zone_to (the scope's instants).
--
-- The wall-clock time is not converted row by row: zone_hours holds, for each UTC
-- hour of the scope, the zone's offset at its start and whether that offset holds
-- for the whole hour. A row adds its hour's offset to its instant (arithmetic and
-- a join on a table of ~1,500 rows instead of an IANA conversion per row: ~40%
-- of this query's time at 1.6 M rows). DST-correct by construction: a transition
-- inside an hour (zones with :30/:45 offsets, odd historic ones) makes that hour
-- not constant and its rows take the per-row conversion.
with zone_hours as (
    select
        epoch_us(hour_start) // 3600000000 as utc_hour,
        epoch_us(timezone($tz, hour_start)) - epoch_us(hour_start) as offset_us,
        epoch_us(timezone($tz, hour_end)) - epoch_us(hour_end)
            = epoch_us(timezone($tz, hour_start)) - epoch_us(hour_start) as is_constant
    from (
        select
            hour_start,
            hour_start + to_microseconds(3599999999) as hour_end
        from (
            select unnest(
                range(date_trunc('hour', $zone_from), $zone_to, to_hours(1))
            ) as hour_start
        )
    )
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
    case
        when z.is_constant then make_timestamp(epoch_us(started_at) + z.offset_us)
        else timezone($tz, started_at)
    end as local_start,
    -- digits of an inbound caller's number (null otherwise: only inbound callers are
    -- external callers, so the regular expression runs for those rows only)
    case when direction = 'inbound' then {caller_digits} end as caller_digits
from calls
left join zone_hours as z on z.utc_hour = epoch_us(started_at) // 3600000000
where {where}
