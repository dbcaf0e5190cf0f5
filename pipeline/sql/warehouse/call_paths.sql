-- The path of each call through the media server, in words, from its steps
-- (lake table call_steps, switchboard.call_steps) and the menus' names (temp table
-- attendant_names, filled from the provisioning store by pipeline.history.name_menus;
-- a menu without a name there reads "menu <id>"). One row per call that has steps:
-- " → Sales menu → 1 → 102 (answered)". The call_history view puts where the call came in
-- ("Main number") in front. A bridge's result is attached to its target with a space;
-- bridge_ended, hold and unhold say nothing about the path and are left out.
--
-- Filled by pipeline.warehouse (str.format, so no braces in comments). The table macro
-- call_path_templates(first_day, last_day) (call_path_templates.sql) builds the paths of
-- the steps of those UTC days with each menu as a token (chr(1) id chr(2)), not its name:
-- the names are the provisioning store's now, so call_history puts them in, for the
-- rows a query shows only. Compaction writes each closed day's templates once (the
-- calls whose first step is that day: pipeline.compaction, rollup call_paths); the
-- view call_paths reads those (the rolled placeholder, a relation of call_id and
-- template) and builds only the calls whose first step is on or after the day the
-- rollups end, reading their steps from the day before (the live placeholder: those
-- templates with first_at, from live_path_templates over the view live_call_steps, whose
-- files are those days' only, or no rows when a narrowed connection's days are all rolled).
-- "not materialized": DuckDB would otherwise build each part whole, before a query's
-- date filter reaches it (call_history_of_days reads a few days' rollup files).
create view call_paths as
with rolled as not materialized (
    select
        call_id,
        template,
        "date"
    from {rolled}
),

live as not materialized (
    select
        call_id,
        template,
        cast(first_at as date) as "date"  -- the UTC day (the session's zone), as rolled
    from {live}
),

final as not materialized (
    select * from rolled
    union all
    select * from live
)

select * from final
