-- One search across call-recording and voicemail transcripts: every word of $words (lower
-- case) must appear in the newest transcript of the item (pipeline/sql/warehouse/
-- latest_transcripts.sql). Newest first, at most $limit rows.
-- Both views are already bound to the viewer's scope (tenant; a plain user's own calls and
-- mailbox).
with recording_hits as (
    select
        'recording' as kind,
        recordings.recording_id as item_id,
        recordings.origin_call_id as call_id,
        recordings.started_at,
        recordings.duration,
        recordings.caller,
        recordings.callee,
        latest_recording_transcripts.text as transcript
    from latest_recording_transcripts
    inner join recordings_with_call as recordings
        on recordings.recording_id = latest_recording_transcripts.recording_id
),

voicemail_hits as (
    select
        'voicemail' as kind,
        voicemails.message_id as item_id,
        voicemails.call_id,
        voicemails.started_at,
        voicemails.duration,
        voicemails.caller,
        voicemails.mailbox as callee,
        latest_transcripts.text as transcript
    from latest_transcripts
    inner join voicemails on voicemails.message_id = latest_transcripts.message_id
),

final as (
    select *
    from (
        select * from recording_hits
        union all
        select * from voicemail_hits
    )
    where list_bool_and(
        list_transform(
            cast($words as varchar[]),
            lambda word: contains(lower(transcript), word)
        )
    )
)

select * from final
order by started_at desc, kind, item_id
limit $limit
