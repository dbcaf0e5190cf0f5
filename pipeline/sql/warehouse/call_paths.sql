-- The path of each call through the media server, in words, from its steps
-- (lake table call_steps, switchboard.call_steps) and the menus' names (temp table
-- attendant_names, filled from the provisioning store by pipeline.history.name_menus;
-- a menu without a name there reads "menu <id>"). One row per call that has steps:
-- " → Sales menu → 1 → 102 (answered)". The call_history view puts where the call came in
-- ("Main number") in front. A bridge's result is attached to its target with a space;
-- bridge_ended, hold and unhold say nothing about the path and are left out.
create view call_paths as
with named_steps as (
    select
        s.call_id,
        s.batch_id,
        s.seq,
        s."at",
        s.kind,
        s.key,
        s.target,
        s.outcome,
        coalesce(n.name, 'menu ' || s.attendant_id) as menu
    from call_steps as s
    left join attendant_names as n on n.attendant_id = s.attendant_id
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
        string_agg(
            case when attached then ' ' else ' → ' end || word,
            ''
            order by batch_at, batch_id, seq
        ) as menu_path
    from words
    where word is not null
    group by call_id
)

select * from final
