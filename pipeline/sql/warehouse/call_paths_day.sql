-- The rollup of one closed UTC day's call paths (pipeline.compaction): the calls whose
-- first step is on $day, their paths with menus as tokens (call_paths.sql's macro), built
-- from the steps of the day before to the day after (a call lasts less than a day).
select
    call_id,
    template
from call_path_templates(cast($day as date) - 1, cast($day as date) + 1)
where first_at >= $day
    and first_at < $day + interval 1 day
