-- The messages of one mailbox: mutable state from the provisioning store (registered
-- as the Arrow table message_state, in the mailbox's order) joined to the lake facts of
-- the original message (a forwarded copy shows its original's audio and transcript).
-- $words: lower-case search words; a message matches when its transcript contains all.
-- latest_transcripts: the newest transcript of each message (pipeline/sql/warehouse/
-- latest_transcripts.sql).
with final as (
    select
        state.message_id,
        state.source_id,
        state.folder,
        state.is_read,
        state.forwarded_by,
        state.deleted_at,
        voicemails.caller,
        voicemails.caller_name,
        voicemails.from_carrier,
        voicemails.call_id,
        -- the store's copy until the message's row is in the lake
        coalesce(voicemails.started_at, to_timestamp(state.started_at)) as started_at,
        coalesce(voicemails.duration, state.duration) as duration,
        coalesce(voicemails.cut_off, false) as cut_off,
        voicemails.end_reason,
        latest_transcripts.text as transcript,
        latest_transcripts.segments_json,
        latest_transcripts.language,
        latest_transcripts.model as transcript_model,
        latest_transcripts.avg_logprob,
        latest_transcripts.no_speech_prob,
        state.position
    from message_state as state
    left join voicemails on voicemails.message_id = state.source_id
    left join latest_transcripts on latest_transcripts.message_id = state.source_id
)

select * from final
where coalesce(
    list_bool_and(
        list_transform(
            cast($words as varchar[]),
            lambda word: contains(lower(coalesce(transcript, '')), word)
        )
    ),
    true
)
order by position
