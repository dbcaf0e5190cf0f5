-- Peak concurrent calls per bucket. A call is active on [started_at, ended_at);
-- zero-length calls never are. Ends come before starts at the same instant, so
-- a call ending as another starts does not overlap it. The peak of a bucket is the highest
-- level seen at any of its instants, including the level carried in from before
-- its first instant. Buckets without any start or end are not listed.
with scoped as (
    {scoped_calls}
),

zone_hours as (
    {zone_hours}
),

events as (
    select started_at as event_at, 1 as delta from scoped where ended_at > started_at
    union all
    select ended_at as event_at, -1 as delta from scoped where ended_at > started_at
),

-- One sort, no grouping by instant: the events in time order, ends before starts
-- at the same instant (delta -1 first), with the running level after each event.
-- Inside one instant the level first falls (ends) then rises (starts), so every
-- level seen mid-instant lies between the levels before and after it: the peak
-- over events equals the peak over instants, except at an instant exactly on a
-- bucket's start, where only the level after it counts (its last event: the
-- next event is at another instant). ~25% faster than grouping by instant.
running as (
    select
        event_at,
        delta,
        sum(delta) over by_time as active,
        lead(event_at) over by_time as next_at
    from events
    window by_time as (
        order by event_at, delta rows between unbounded preceding and current row
    )
),

-- The bucket of each event from its wall-clock time (its UTC hour's offset, z), and
-- each bucket's first instant computed once per bucket, not per event: converting
-- every event's instant was ~60% of this query's time.
bucketed as (
    select
        {bucket_at} as bucket,
        event_at,
        delta,
        active,
        next_at
    from running
    left join zone_hours as z on z.utc_hour = epoch_us(event_at) // 3600000000
),

bucket_starts as (
    select
        bucket,
        {bucket_start} as bucket_start
    from (select distinct bucket from bucketed)
),

with_starts as (
    select
        b.bucket,
        b.event_at,
        b.delta,
        b.active,
        b.next_at,
        s.bucket_start
    from bucketed as b
    inner join bucket_starts as s on s.bucket = b.bucket
),

final as (
    select
        bucket,
        cast(max(
            case
                -- the level before the event held inside the bucket too
                when event_at > bucket_start then greatest(active, active - delta)
                -- on the bucket's start: the level after the whole instant only
                when next_at is distinct from event_at then active
            end
        ) as bigint) as peak_active
    from with_starts
    group by bucket
)

select * from final
order by bucket
