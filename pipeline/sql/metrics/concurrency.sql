-- Peak concurrent calls per bucket. A call is active on [started_at, ended_at);
-- zero-length calls never are. Events are summed per instant, so ends and
-- starts at the same instant do not overlap. The peak of a bucket is the highest
-- level seen at any of its instants, including the level carried in from before
-- its first instant. Buckets without any start or end are not listed.
with scoped as (
    {scoped_calls}
),

events as (
    select started_at as event_at, 1 as delta from scoped where ended_at > started_at
    union all
    select ended_at as event_at, -1 as delta from scoped where ended_at > started_at
),

instants as (
    select
        event_at,
        sum(delta) as net
    from events
    group by event_at
),

running as (
    select
        event_at,
        net,
        sum(net) over (order by event_at rows between unbounded preceding and current row) as active
    from instants
),

bucketed as (
    select
        {bucket_at} as bucket,
        event_at,
        net,
        active
    from running
),

with_starts as (
    select
        bucket,
        event_at,
        net,
        active,
        {bucket_start} as bucket_start
    from bucketed
),

final as (
    select
        bucket,
        cast(max(
            case when event_at > bucket_start then greatest(active, active - net) else active end
        ) as bigint) as peak_active
    from with_starts
    group by bucket
)

select * from final
order by bucket
