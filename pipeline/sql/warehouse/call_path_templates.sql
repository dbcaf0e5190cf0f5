-- A table macro (first_day, last_day): the paths of the steps of those UTC days,
-- each menu a token (chr(1) id chr(2)); see call_paths.sql. Filled by pipeline.warehouse
-- (str.format, so no other braces): call_path_templates reads the view call_steps (a
-- closed day's rollup, pipeline.compaction), live_path_templates the view live_call_steps
-- (the live paths: binding a view over a year of step files is ~8 ms a query, over the
-- last days' ~1 ms, and call_history binds it twice).
create or replace macro {name}(first_day, last_day) as table
with named_steps as (
    select
        call_id,
        batch_id,
        seq,
        "at",
        kind,
        key,
        target,
        outcome,
        chr(1) || attendant_id || chr(2) as menu
    from {steps}
    where "date" between first_day and last_day
),

batches as (
    select
        batch_id,
        min("at") as batch_at
    from named_steps
    group by batch_id
),

words as (
    select
        s.call_id,
        s."at",
        b.batch_at,
        s.batch_id,
        s.seq,
        case s.kind
            when 'menu_entered' then s.menu
            when 'menu_key' then s.key
            when 'menu_invalid' then 'invalid ' || coalesce(s.key, '?')
            when 'menu_timeout' then 'no input'
            when 'menu_hangup' then 'hung up'
            when 'announcement' then replace(coalesce(s.target, 'announcement'), ':', ' ')
            when 'voicemail' then 'voicemail ' || coalesce(split_part(s.target, ':', 2), '')
            when 'queue' then 'queue ' || coalesce(split_part(s.target, ':', 2), '?')
            when 'bridge_attempt' then coalesce(split_part(s.target, ':', 2), '?')
            when 'bridge_answered' then '(answered)'
            when 'bridge_failed' then '(' || replace(coalesce(s.outcome, 'failed'), '_', ' ') || ')'
            when 'hangup' then 'ended'
        end as word,
        s.kind in ('bridge_answered', 'bridge_failed') as attached
    from named_steps as s
    inner join batches as b on b.batch_id = s.batch_id
),

final as (
    select
        call_id,
        -- every step, worded or not: the day a call's rollup belongs to
        min("at") as first_at,
        string_agg(
            case when attached then ' ' else ' → ' end || word,
            ''
            order by batch_at, batch_id, seq
        ) filter (where word is not null) as template
    from words
    group by call_id
    having count(word) > 0
)

select * from final;
