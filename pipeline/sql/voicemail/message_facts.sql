-- Lake facts and transcript of given messages (the email step reads these).
with final as (
    select
        voicemails.message_id,
        voicemails.mailbox,
        voicemails.caller,
        voicemails.caller_name,
        voicemails.call_id,
        voicemails.started_at,
        voicemails.duration,
        voicemails.cut_off,
        transcripts.text as transcript
    from voicemails
    left join transcripts on transcripts.message_id = voicemails.message_id
    where list_contains(cast($ids as varchar[]), voicemails.message_id)
)

select * from final
