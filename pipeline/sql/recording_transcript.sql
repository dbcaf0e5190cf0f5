-- One recording's newest transcript (latest_recording_transcripts, pipeline/sql/warehouse/
-- latest_transcripts.sql), or no row while it has none. The view is bound to the viewer's
-- scope.
with final as (
    select
        recording_id,
        text,
        segments_json,
        language,
        model,
        transcribed_at
    from latest_recording_transcripts
    where recording_id = $recording_id
)

select * from final
