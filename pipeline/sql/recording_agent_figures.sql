-- Conversation figures per agent: the extension that answered the recorded call (for a
-- queue or attendant call, the agent its bridged leg reached: legs.callee). Views are bound
-- to the viewer's scope; $since / $until (UTC instants, null: open) bound the recording's
-- start. Definitions (docs/recordings.md):
--   talk_share     = agent's speech seconds / both sides' speech seconds, mean over calls
--                    with speech (the agent is the callee side of an inbound or internal call,
--                    the caller side when the agent placed the call)
--   longest_silence, overtalk = means over the agent's recorded calls, in seconds
with staging as (
    select
        recordings.recording_id,
        recordings.duration,
        recordings.caller_speech_seconds,
        recordings.callee_speech_seconds,
        recordings.longest_silence_seconds,
        recordings.overtalk_seconds,
        coalesce(recordings.leg_callee, calls.answered_by, recordings.callee) as agent,
        coalesce(recordings.leg_callee, calls.answered_by, recordings.callee)
            = coalesce(calls.caller, recordings.caller) as agent_called
    from recordings_with_call as recordings
    left join calls on calls.call_id = recordings.origin_call_id
    where ($since is null or recordings.started_at >= $since)
        and ($until is null or recordings.started_at < $until)
),

per_call as (
    select
        agent,
        duration,
        longest_silence_seconds,
        overtalk_seconds,
        case when agent_called then caller_speech_seconds else callee_speech_seconds end
            as agent_speech,
        caller_speech_seconds + callee_speech_seconds as both_speech
    from staging
    where agent is not null
),

final as (
    select
        agent,
        count(*) as recorded_calls,
        round(sum(duration), 1) as recorded_seconds,
        round(avg(agent_speech / nullif(both_speech, 0)), 3) as talk_share,
        round(avg(longest_silence_seconds), 2) as longest_silence_seconds,
        round(avg(overtalk_seconds), 2) as overtalk_seconds
    from per_call
    group by agent
)

select * from final
order by agent
