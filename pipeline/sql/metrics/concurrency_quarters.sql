-- Staging for concurrency.sql and its rollup: the peak per UTC quarter-hour of the calls
-- of a relation that started in [calls_from, calls_to), for the quarter-hours of
-- [keep_from, keep_to). A call is active on [started_at, ended_at); zero-length
-- calls never are. Every zone's bucket edges (local hours, days, weeks) are UTC
-- quarter-hours (every IANA zone's offset since 1979-10, when Kiritimati's -10:40
-- ended), so a bucket's peak is the highest of its quarter-hours': their `peak` (each
-- as a bucket of its own) and, for each one after the bucket's first instant,
-- `level_in` (the level carried in at its start). Quarter-hours without any start or
-- end are not listed. Placeholders (pipeline.call_rollups): calls (a relation
-- with started_at, ended_at) and the four bounds (SQL expressions).
with events as (
    select started_at as event_at, 1 as delta
    from {calls}
    where ended_at > started_at and started_at >= {calls_from} and started_at < {calls_to}
    union all
    select ended_at as event_at, -1 as delta
    from {calls}
    where ended_at > started_at and started_at >= {calls_from} and started_at < {calls_to}
),

-- One sort: the events in time order, ends before starts at the same instant (delta -1
-- first), with the running level after each event. Inside one instant the level first
-- falls (ends) then rises (starts), so every level seen mid-instant lies between the
-- levels before and after it: the peak over events equals the peak over instants,
-- except at an instant exactly on a quarter-hour's start, where only the level after it
-- counts (its last event: the next event is at another instant); the level before it
-- is the quarter-hour's level_in.
running as (
    select
        event_at,
        delta,
        sum(delta) over by_time as active,
        count(*) over by_time as seq,
        lead(event_at) over by_time as next_at
    from events
    window by_time as (
        order by event_at, delta rows between unbounded preceding and current row
    )
),

quartered as (
    select
        to_timestamp(epoch_us(event_at) // 900000000 * 900) as quarter_at,
        event_at,
        delta,
        active,
        seq,
        next_at
    from running
    where event_at >= {keep_from} and event_at < {keep_to}
),

final as (
    select
        quarter_at,
        cast(max(
            case
                when event_at > quarter_at then greatest(active, active - delta)
                when next_at is distinct from event_at then active
            end
        ) as bigint) as peak,
        -- the level before the quarter-hour's first event
        cast(arg_min(active - delta, seq) as bigint) as level_in
    from quartered
    group by quarter_at
)

select * from final
