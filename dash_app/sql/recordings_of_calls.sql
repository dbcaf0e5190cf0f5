-- The newest recording of each call in $call_ids, for the recording icon of Call History rows.
-- The views are already bound to the viewer's scope; a recording of a bridged leg counts
-- for the leg's call (recordings_with_call, pipeline/sql/warehouse/recordings_with_call.sql).
with final as (
    select
        origin_call_id as call_id,
        recording_id
    from recordings_with_call
    where list_contains(cast($call_ids as varchar[]), origin_call_id)
    qualify row_number() over (
        partition by origin_call_id
        order by started_at desc, recording_id
    ) = 1
)

select * from final
