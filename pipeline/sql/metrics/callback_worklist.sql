-- Callback worklist: external callers whose offered inbound calls in scope were
-- not answered, and who since their last such call were neither called back (an
-- outbound call to the number, any outcome) nor reached (an answered inbound
-- call from it). Callbacks are looked for in every call after the missed one,
-- also after the period. Rows marked handled are removed by pipeline.metrics.
-- Stage 2 of two, over relations pipeline.metric_engine registers:
-- worklist_missed (missed_callers.sql over the period) and worklist_contacts
-- (contacts.sql over the period's calls, each later span's, and the lake's after
-- them; a number may have a row from each).
with contacts as (
    select
        number,
        max(last_contact_at) as last_contact_at
    from worklist_contacts
    where number in (select number from worklist_missed)  -- ~half the time at 10 M calls
    group by number
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
    from worklist_missed as m
    left join contacts as c on c.number = m.number
    -- no contact at all, or none after the last missed call
    where c.last_contact_at is null or c.last_contact_at <= m.last_missed_at
)

select * from final
order by last_missed_at desc, number
