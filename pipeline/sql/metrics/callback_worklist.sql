-- Callback worklist: external callers whose offered inbound calls in scope were
-- not answered, and who since their last such call were neither called back (an
-- outbound call to the number, any outcome) nor reached (an answered inbound
-- call from it). Callbacks are looked for in every call after the missed one,
-- also after the period. Rows marked handled are removed by pipeline.metrics.
with scoped as (
    {scoped_calls}
),

missed as (
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
),

contacts as (
    {contacts}
),

final as (
    select
        m.number,
        m.caller,
        m.caller_name,
        m.missed_calls,
        m.first_missed_at,
        m.last_missed_at,
        m.last_disposition,
        m.last_callee
    from missed as m
    left join contacts as c on c.number = m.number
    -- no contact at all, or none after the last missed call
    where c.last_contact_at is null or c.last_contact_at <= m.last_missed_at
)

select * from final
order by last_missed_at desc, number
