-- Recordings of the tenant (the views are already bound to the viewer's scope), newest first,
-- with their call: a recording of a bridged leg belongs to the leg's call (recordings_with_call,
-- pipeline/sql/warehouse/recordings_with_call.sql), and is listed only when the call's own
-- leg was not recorded.
-- With $missing: instead, the recordings the policy said to make ("always") that rtpengine
-- could not: the call went on with direct media (recording_outcome 'missing', from
-- Kamailio's CDR; docs/recordings.md). A call's own, or a bridged leg's (the leg the media
-- server placed is recorded by its target's policy when the call was not: route
-- BRIDGE_RECORDING), listed under its call (call_id the caller's; captured_call_id and
-- leg_callee the leg's Call-ID and target; callee the leg's target). acc_id: the accounting
-- row that said so (pipeline.recording_alerts reads this list after its cursor, so the
-- alert and the list agree on what is missing). Their recording columns are null.
-- One filter serves both lists; a null parameter does not filter.
-- $words: lower-case words that must all appear in the newest transcript
-- (latest_recording_transcripts, pipeline/sql/warehouse/latest_transcripts.sql).
with linked as (
    select *
    from recordings_with_call
    -- A bridged call whose caller leg is recorded holds the agent too (the media server
    -- relays the agent into it): the leg's own recording would show the call twice.
    where not of_leg
        or origin_call_id not in (select call_id from recordings)
),

with_calls as (
    select
        linked.recording_id,
        linked.origin_call_id as call_id,
        linked.call_id as captured_call_id,
        linked.started_at,
        linked.ended_at,
        linked.duration,
        linked.codec,
        linked.audio_path,
        coalesce(calls.caller, linked.caller) as caller,
        coalesce(calls.callee, linked.callee) as callee,
        calls.caller_name,
        calls.callee_name,
        calls.answered_by,
        calls.direction,
        linked.caller_speech_seconds,
        linked.callee_speech_seconds,
        linked.longest_silence_seconds,
        linked.overtalk_seconds,
        linked.lost_packets,
        latest_recording_transcripts.recording_id is not null as has_transcript,
        latest_recording_transcripts.text as transcript
    from linked
    left join calls on calls.call_id = linked.origin_call_id
    left join latest_recording_transcripts
        on latest_recording_transcripts.recording_id = linked.recording_id
    where not $missing
),

-- A bridged leg's row (lake table legs) is its own accounting row, with the bridged call's
-- caller in it (Kamailio's): listed under its call (origin_call_id), callee whom it rang;
-- read alone, not joined to its call (whose row may land later).
missing_calls as (
    select
        coalesce(origin_call_id, call_id) as call_id,
        case when origin_call_id is not null then call_id end as captured_call_id,
        case when origin_call_id is not null then callee end as leg_callee,
        acc_id,
        started_at,
        ended_at,
        caller,
        caller_name,
        callee,
        callee_name,
        answered_by,
        direction,
        disposition,
        talk_seconds
    from (
        select * from calls
        union all by name
        select * from legs
    )
    where $missing and recording_outcome = 'missing'
),

final as (
    select *
    from (
        select * from with_calls
        union all by name
        select * from missing_calls
    )
    where ($recording_id is null or recording_id = $recording_id)
        and ($since is null or started_at >= $since)
        and ($until is null or started_at < $until)
        and ($direction is null or direction = $direction)
        and (
            $extension is null
            or caller = $extension
            or callee = $extension
            or answered_by = $extension
        )
        and (
            $number is null
            or contains(regexp_replace(coalesce(caller, ''), '[^0-9]', '', 'g'), $number)
            or contains(regexp_replace(coalesce(callee, ''), '[^0-9]', '', 'g'), $number)
        )
        and (
            $queue_id is null
            or call_id in (select call_id from queue_events where queue_id = $queue_id)
        )
        and ($has_transcript is null or has_transcript = $has_transcript)
        and (
            len(cast($words as varchar[])) = 0
            or list_bool_and(
                list_transform(
                    cast($words as varchar[]),
                    lambda word: contains(lower(coalesce(transcript, '')), word)
                )
            )
        )
)

select * from final
order by started_at desc, recording_id, call_id
limit $limit
offset $offset
