-- Callback worklist, stage 1: external callers whose offered inbound calls in scope
-- were not answered, one row per number (digits). It depends on the period's calls
-- only, so a closed period's rows stay cached while calls come in; stage 2
-- (callback_worklist.sql) looks for contacts after them.
with scoped as (
    {scoped_calls}
),

final as (
    select
        caller_digits as number,
        min(caller) as caller,
        max(caller_name) as caller_name,
        count(*) as missed_calls,
        min(started_at) as first_missed_at,
        max(started_at) as last_missed_at,
        arg_max(disposition, started_at) as last_disposition,
        arg_max(callee, started_at) as last_callee
    from scoped
    where is_external_caller and is_offered and not is_answered
    group by caller_digits
)

select * from final
