-- Each recording with the call it belongs to: rtpengine records a Call-ID, and a recording
-- of a leg the media server bridged (legs.call_id) belongs to the leg's call, the caller's
-- (legs.origin_call_id, docs/recordings.md). Over the views pipeline.warehouse already bound
-- to the viewer's scope, so it shows no recording those do not.
--   origin_call_id  the call's Call-ID (the recording's own call_id when not a leg's)
--   leg_callee      who the bridged leg reached (the agent); null for a call's own recording
--   of_leg          the recording is a bridged leg's
create view recordings_with_call as
select
    recordings.*,
    coalesce(legs.origin_call_id, recordings.call_id) as origin_call_id,
    legs.callee as leg_callee,
    legs.call_id is not null as of_leg
from recordings
left join legs on legs.call_id = recordings.call_id
