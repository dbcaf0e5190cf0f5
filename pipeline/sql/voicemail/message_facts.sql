-- Lake facts and transcript of given messages (the email step reads these).
-- latest_transcripts: the newest transcript of each message (pipeline/sql/warehouse/
-- latest_transcripts.sql).
with final as (
    select
        voicemails.message_id,
        voicemails.mailbox,
        voicemails.caller,
        voicemails.caller_name,
        voicemails.from_carrier,
        voicemails.call_id,
        voicemails.started_at,
        voicemails.duration,
        voicemails.cut_off,
        latest_transcripts.text as transcript,
        latest_transcripts.language,
        latest_transcripts.avg_logprob,
        latest_transcripts.no_speech_prob
    from voicemails
    left join latest_transcripts on latest_transcripts.message_id = voicemails.message_id
    where list_contains(cast($ids as varchar[]), voicemails.message_id)
)

select * from final
