-- Peak concurrent calls per bucket. A call is active on [started_at, ended_at);
-- zero-length calls never are. The peak of a bucket is the highest level seen at any of
-- its instants, including the level carried in from before its first instant. Buckets
-- without any start or end are not listed. Calls in scope only: one still active at the
-- period's start belongs to the period before, and the ends after the period's end are
-- in buckets after it.
--
-- From quarter-hours (concurrency_quarters.sql): the head (the period's first day) and
-- the tail (from the first day without a rollup) from the calls in scope; the days
-- between from compaction's rollup files (placeholder "quarters", pipeline.call_rollups:
-- a tenant-wide, unfiltered page; otherwise the whole period from the calls). A bucket's peak
-- is the highest of its quarter-hours' peaks and of the levels carried into its
-- quarter-hours after its first instant.
with scoped as (
    {scoped_calls}
),

zone_hours as (
    {zone_hours}
),

quarters as (
    {quarters}
),

-- The bucket of each quarter-hour from its wall-clock time (its UTC hour's offset, z),
-- and each bucket's first instant computed once per bucket.
bucketed as (
    select
        {bucket_at} as bucket,
        event_at,
        peak,
        level_in
    from (select quarter_at as event_at, peak, level_in from quarters) as q
    left join zone_hours as z on z.utc_hour = epoch_us(event_at) // 3600000000
),

bucket_starts as (
    select
        bucket,
        {bucket_start} as bucket_start
    from (select distinct bucket from bucketed)
),

final as (
    select
        b.bucket,
        cast(greatest(
            max(b.peak),
            coalesce(max(b.level_in) filter (where b.event_at > s.bucket_start), 0)
        ) as bigint) as peak_active
    from bucketed as b
    inner join bucket_starts as s on s.bucket = b.bucket
    group by b.bucket
)

select * from final
order by bucket
