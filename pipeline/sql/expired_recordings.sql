-- Recordings past their tenant's retention: started before $cutoff (a UTC instant).
-- The view is the tenant's (pipeline.warehouse.connect without an extension).
with final as (
    select
        recording_id,
        started_at,
        audio_path,
        caller,
        callee
    from recordings
    where started_at < $cutoff
)

select * from final
order by started_at, recording_id
