-- Staging of the agent metrics (docs/metrics.md, "Queue metrics"): one row per agent,
-- pause reason ('' = not paused) and logged-in flag, with the seconds spent so in
-- [$start, $agent_end) ($agent_end: the period's end, or now if sooner). Every agent
-- event before the end is read, so a login made before the period still counts.
-- $queue_id (null: every queue) keeps that queue's logins and the pauses (all queues).
with events as (
    select
        agent,
        kind,
        reason,
        "at",
        batch_id,
        seq
    from {agent_events}
    where "at" < $agent_end
        and kind in ('login', 'logout', 'pause', 'unpause')
        and ($queue_id is null or queue_id is null or queue_id = $queue_id)
),

-- Why a running sum: an agent is logged in while logged in to at least one queue; the
-- media server writes one login/logout per queue, each only when it changes.
states as (
    select
        agent,
        "at",
        sum(case when kind = 'login' then 1 when kind = 'logout' then -1 else 0 end) over w
            as logins,
        coalesce(
            last_value(
                case
                    when kind = 'pause' then coalesce(reason, 'unspecified')
                    when kind = 'unpause' then ''
                end ignore nulls
            ) over w,
            ''
        ) as pause_reason,
        lead("at") over (partition by agent order by "at", batch_id, seq) as next_at
    from events
    window w as (
        partition by agent
        order by "at", batch_id, seq
        rows between unbounded preceding and current row
    )
),

segments as (
    select
        agent,
        logins > 0 as logged_in,
        pause_reason,
        greatest(
            0.0,
            epoch(least(coalesce(next_at, $agent_end), $agent_end))
            - epoch(greatest("at", $start))
        ) as seconds
    from states
),

final as (
    select
        agent,
        logged_in,
        pause_reason,
        sum(seconds) as seconds
    from segments
    group by agent, logged_in, pause_reason
)

select * from final
