-- The messages of one mailbox: mutable state from the provisioning store (registered
-- as the Arrow table message_state, in the mailbox's order) joined to the lake facts of
-- the original message (a forwarded copy shows its original's audio and transcript).
-- $words: lower-case search words; a message matches when its transcript contains all.
-- latest_transcripts: the newest transcript of each message (pipeline/sql/warehouse/
-- latest_transcripts.sql).
with state as (
    select
        position,
        message_id,
        source_id,
        folder,
        is_read,
        forwarded_by,
        deleted_at,
        started_at as state_started_at,
        duration as state_duration
    from message_state
),

matched as (
    select
        state.*,
        voicemails.caller,
        voicemails.caller_name,
        voicemails.call_id,
        voicemails.started_at,
        voicemails.duration,
        voicemails.cut_off,
        voicemails.end_reason,
        latest_transcripts.text as transcript,
        latest_transcripts.segments_json,
        latest_transcripts.language,
        latest_transcripts.model as transcript_model,
        latest_transcripts.avg_logprob,
        latest_transcripts.no_speech_prob
    from state
    left join voicemails on voicemails.message_id = state.source_id
    left join latest_transcripts on latest_transcripts.message_id = state.source_id
),

final as (
    select
        message_id,
        source_id,
        folder,
        is_read,
        forwarded_by,
        deleted_at,
        caller,
        caller_name,
        call_id,
        coalesce(started_at, to_timestamp(state_started_at)) as started_at,
        coalesce(duration, state_duration) as duration,
        coalesce(cut_off, false) as cut_off,
        end_reason,
        transcript,
        segments_json,
        language,
        transcript_model,
        avg_logprob,
        no_speech_prob,
        position
    from matched
    where coalesce(
        list_bool_and(
            list_transform(
                cast($words as varchar[]),
                lambda word: contains(lower(coalesce(transcript, '')), word)
            )
        ),
        true
    )
)

select * from final
order by position
