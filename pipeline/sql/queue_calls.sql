-- Drill-down of the queue metrics: the stints of the period (newest first), each joined to
-- its call in `calls` by the caller's Call-ID (null when the call row is not in yet).
with stints as (
    {stints}
),

final as (
    select
        s.entered_at,
        s.queue_id,
        s.outcome,
        s.caller,
        s.agent,
        s.wait_seconds,
        s.talk_seconds,
        s.wrap_seconds,
        s.wait_seconds <= s.service_level_seconds and s.outcome = 'answered'
            as within_service_level,
        s.overflow_reason,
        s.sent_to,
        c.disposition as call_disposition,
        s.call_id
    from stints as s
    left join calls as c
        on c.call_id = s.call_id
    where s.entered_at >= $start
        and s.entered_at < $end
        and ($outcome is null or s.outcome = $outcome)
)

select * from final
order by entered_at desc
limit $limit
