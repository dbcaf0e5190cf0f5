-- Queue metrics, per agent over the period (docs/metrics.md, "Queue metrics"): calls,
-- talk and wrap-up of the stints they answered (by connect time), logged-in and paused
-- time, occupancy = (talk + wrap-up) / (logged in - paused while logged in).
with stints as (
    {stints}
),

agent_states as (
    {agent_states}
),

handled as (
    select
        agent,
        count(*) as calls,
        coalesce(sum(talk_seconds), 0.0) as talk_seconds,
        coalesce(sum(wrap_seconds), 0.0) as wrapup_seconds
    from stints
    where outcome = 'answered'
        and connected_at >= $start
        and connected_at < $end
    group by agent
),

staffed as (
    select
        agent,
        coalesce(sum(seconds) filter (where logged_in), 0.0) as logged_in_seconds,
        coalesce(sum(seconds) filter (where logged_in and pause_reason <> ''), 0.0)
            as paused_seconds
    from agent_states
    group by agent
),

final as (
    select
        coalesce(s.agent, h.agent) as agent,
        coalesce(h.calls, 0) as calls,
        coalesce(h.talk_seconds, 0.0) as talk_seconds,
        coalesce(h.wrapup_seconds, 0.0) as wrapup_seconds,
        coalesce(s.logged_in_seconds, 0.0) as logged_in_seconds,
        coalesce(s.paused_seconds, 0.0) as paused_seconds,
        (coalesce(h.talk_seconds, 0.0) + coalesce(h.wrapup_seconds, 0.0))
        / nullif(s.logged_in_seconds - s.paused_seconds, 0) as occupancy
    from staffed as s
    full outer join handled as h
        on h.agent = s.agent
    where coalesce(h.calls, 0) > 0
        or coalesce(s.logged_in_seconds, 0.0) > 0
)

select * from final
order by agent
