-- Staging of the queue metrics (docs/metrics.md, "Queue metrics"): one row per stint
-- (queue_stint_rows.sql, which says which stints are read) with its queue's thresholds:
-- the relation queue_thresholds(queue_id, service_level_seconds,
-- short_abandon_seconds) holds each queue's settings ($default_sl, $default_short for a
-- queue the store no longer has). The stint_rows placeholder (str.format, so no braces
-- in comments) is queue_stint_rows.sql over the window, or queue_stints_rolled.sql: the
-- closed days' rollup and the rest computed (pipeline.queue_metrics).
with stint_rows as (
    {stint_rows}
),

final as (
    select
        s.*,
        coalesce(t.service_level_seconds, $default_sl) as service_level_seconds,
        coalesce(t.short_abandon_seconds, $default_short) as short_abandon_seconds
    from stint_rows as s
    left join queue_thresholds as t
        on t.queue_id = s.queue_id
)

select * from final
