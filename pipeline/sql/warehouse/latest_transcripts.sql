-- The newest transcript of each item: a lake transcripts table holds one row per item and
-- model, and a re-transcription replaces what readers see only once its row is in the lake
-- (newest transcribed_at wins; the model's name breaks a tie). Created twice by
-- pipeline.warehouse, over the views it already bound to the viewer's scope, so it shows
-- no row those views do not: latest_transcripts over transcripts (voicemail, by
-- message_id) and latest_recording_transcripts over recording_transcripts (by
-- recording_id). Placeholders (str.format, constants of pipeline.queries): name, table, item.
create view {name} as
select *
from {table}
qualify row_number() over (
    partition by {item}
    order by transcribed_at desc, model
) = 1
