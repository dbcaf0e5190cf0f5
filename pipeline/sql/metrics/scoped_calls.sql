-- Staging: the calls in scope (period + filters), with the derived columns every
-- metric shares. Only renames, casts and classifications here; no aggregation.
-- Placeholders filled by pipeline.metrics: {where} (a compiled CallFilter with
-- named parameters), {handling_extension} and {caller_digits} (the expressions
-- pipeline.filters uses for the same drill-down keys). Values are bound: $tz,
-- $open_frames.
select
    call_id,
    acc_id,
    direction,
    disposition,
    caller,
    caller_name,
    callee,
    answered_by,
    started_at,
    ended_at,
    ring_seconds,
    talk_seconds,
    rule,
    frame,
    -- wall-clock start in the tenant's zone (a naive timestamp)
    timezone($tz, started_at) as local_start,
    -- offered: calls that rang the tenant (inbound, internal), blocked ones excluded
    direction in ('inbound', 'internal') and disposition <> 'blocked' as is_offered,
    disposition = 'answered' as is_answered,
    {handling_extension} as extension,
    case when direction = 'inbound' then callee end as did,
    -- open/after hours: inbound calls a rule decided; see docs/metrics.md
    case
        when direction <> 'inbound' or rule is null then 'unclassified'
        when frame is not null and list_contains($open_frames, frame) then 'open'
        else 'after'
    end as hours_class,
    {caller_digits} as caller_digits,
    direction = 'inbound' and {caller_digits} <> '' as is_external_caller
from calls
where {where}
