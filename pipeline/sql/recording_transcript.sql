-- One recording's newest transcript (one row per recording and model; readers take the
-- newest), or no row while it has none. The view is bound to the viewer's scope.
with latest_transcripts as (
    select *
    from recording_transcripts
    where recording_id = $recording_id
    qualify row_number() over (
        partition by recording_id
        order by transcribed_at desc, model
    ) = 1
),

final as (
    select
        recording_id,
        text,
        segments_json,
        language,
        model,
        transcribed_at
    from latest_transcripts
)

select * from final
