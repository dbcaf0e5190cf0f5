-- Calls the recording policy said to record ("always") that were not recorded: rtpengine
-- failed at call time and the call went on with direct media (calls.recording_outcome,
-- from Kamailio's CDR; docs/recordings.md). The views are already bound to the viewer's
-- scope. Newest first; a null parameter does not filter (as recording_list.sql).
with final as (
    select
        call_id,
        started_at,
        ended_at,
        caller,
        caller_name,
        callee,
        callee_name,
        answered_by,
        direction,
        disposition,
        talk_seconds
    from calls
    where recording_outcome = 'missing'
        and ($since is null or started_at >= $since)
        and ($until is null or started_at < $until)
        and ($direction is null or direction = $direction)
        and (
            $extension is null
            or caller = $extension
            or callee = $extension
            or answered_by = $extension
        )
        and (
            $number is null
            or contains(regexp_replace(coalesce(caller, ''), '[^0-9]', '', 'g'), $number)
            or contains(regexp_replace(coalesce(callee, ''), '[^0-9]', '', 'g'), $number)
        )
)

select *
from final
order by started_at desc, call_id
limit $limit
