-- The Call History's rows (grid pages, CSV/Parquet exports, scheduled reports): every
-- call with its path through the media server (null for a call without steps), where
-- the call came in first — "Main number" for an inbound call (it rang a main number),
-- else the number or name it rang. The path's menus are tokens (call_paths.sql) named
-- here from attendant_names, after the join, so only the rows a query keeps pay for it.
create view call_history as
select
    c.*,
    case
        when p.template is null then null
        else
            case
                when c.direction = 'inbound' then 'Main number'
                else coalesce(c.callee_name, c.callee, '')
            end
            || regexp_replace(
                list_reduce(
                    (
                        select
                            coalesce(
                                list({'token': chr(1) || attendant_id || chr(2), 'name': name}),
                                []
                            )
                        from attendant_names
                    ),
                    lambda acc, menu: replace(acc, menu.token, menu.name),
                    p.template
                ),
                chr(1) || '([0-9]+)' || chr(2),
                'menu \1',
                'g'
            )
    end as path
from calls as c
left join call_paths as p on p.call_id = c.call_id
