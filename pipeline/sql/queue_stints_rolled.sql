-- The stints of a window whose first days are closed and rolled up (docs/metrics.md,
-- "Queue metrics", rollup): the rows compaction wrote for those days (the rollup
-- placeholder: its files, one per UTC day, pipeline.compaction), and the
-- stints entered from $live_from on computed from the events (queue_stint_rows.sql, the
-- live placeholder, bound to start reading at $stints_from, the day before $live_from, as a
-- rolled-up day's stints were computed). A stint is in exactly one of the two: by the
-- UTC day it entered.
with rolled as (
    select
        *
    from {rollup}
    where entered_at >= $read_from
        and entered_at < $live_from
        and ($queue_id is null or queue_id = $queue_id)
),

live as (
    select
        *
    from (
        {live}
    )
    where entered_at >= $live_from
),

final as (
    select * from rolled
    union all by name
    select * from live
)

select * from final
