-- Transcript search across a tenant (or one mailbox): every word of $words (lower case)
-- must appear in the transcript. Newest first, at most $limit rows. The view itself is
-- already bound to the tenant (and, for a plain user, to the user's mailbox).
-- latest_transcripts: the newest transcript of each message (pipeline/sql/warehouse/
-- latest_transcripts.sql).
with hits as (
    select
        voicemails.message_id,
        voicemails.mailbox,
        voicemails.caller,
        voicemails.caller_name,
        voicemails.from_carrier,
        voicemails.started_at,
        voicemails.duration,
        latest_transcripts.text as transcript
    from latest_transcripts
    inner join voicemails on voicemails.message_id = latest_transcripts.message_id
    where list_bool_and(
        list_transform(
            cast($words as varchar[]),
            lambda word: contains(lower(latest_transcripts.text), word)
        )
    )
        and ($mailbox is null or voicemails.mailbox = $mailbox)
),

final as (
    select * from hits
)

select * from final
order by started_at desc, message_id
limit $limit
