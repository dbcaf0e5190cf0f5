-- The newest recording of each call in $call_ids, for the recording icon of Call History rows.
-- The views are already bound to the viewer's scope; a recording of a bridged leg
-- (legs.call_id) counts for the leg's call (legs.origin_call_id), as in recording_list.sql.
with linked as (
    select
        recordings.recording_id,
        coalesce(legs.origin_call_id, recordings.call_id) as call_id,
        recordings.started_at
    from recordings
    left join legs on legs.call_id = recordings.call_id
),

final as (
    select
        call_id,
        recording_id
    from linked
    where list_contains(cast($call_ids as varchar[]), call_id)
    qualify row_number() over (partition by call_id order by started_at desc, recording_id) = 1
)

select * from final
