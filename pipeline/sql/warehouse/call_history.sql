-- The Call History's rows (grid pages, CSV/Parquet exports, scheduled reports): every
-- call with its path through the media server (null for a call without steps), where
-- the call came in first — "Main number" for an inbound call (it rang a main number),
-- else the number or name it rang.
create view call_history as
select
    c.*,
    case
        when p.menu_path is null then null
        when c.direction = 'inbound' then 'Main number' || p.menu_path
        else coalesce(c.callee_name, c.callee, '') || p.menu_path
    end as path
from calls as c
left join call_paths as p on p.call_id = c.call_id
