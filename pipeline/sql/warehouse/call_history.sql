-- The Call History's rows (grid pages, CSV/Parquet exports, scheduled reports): every
-- call with its path through the media server (null for a call without steps), where
-- the call came in first — "Main number" for an inbound call (it rang a main number),
-- else the number or name it rang. The path's menus are tokens (call_paths.sql) named
-- here from attendant_names, after the join, so only the rows a query keeps pay for it.
--
-- Cost: the closed days' paths are one rollup file per day (call_paths.sql). A query
-- over a few days asks call_history_of_days(first_day, last_day): the calls of those UTC
-- days with the paths of those days and the next, the only ones their paths can be in
-- (a call's first step is on its own UTC day or, past midnight, the next), so a page
-- reads a few rollup files, not the year's (measured on 1 M calls, 40,000 with paths, 366
-- rollup files: a page of a quarter's newest days 149 -> 69 ms). The view is that macro
-- over every day.
create or replace macro call_history_of_days(first_day, last_day) as table
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
left join (
    select
        call_id,
        template
    from call_paths
    where "date" between first_day and last_day + 1
) as p on p.call_id = c.call_id
where c.date between first_day and last_day;

create view call_history as
select * from call_history_of_days(date '0001-01-01', date '9999-12-30')
