-- Queue metrics: paused time per agent and reason while logged in (docs/metrics.md).
with agent_states as (
    {agent_states}
),

final as (
    select
        agent,
        pause_reason as reason,
        sum(seconds) as paused_seconds
    from agent_states
    where logged_in
        and pause_reason <> ''
    group by agent, pause_reason
    having sum(seconds) > 0
)

select * from final
order by agent, reason
