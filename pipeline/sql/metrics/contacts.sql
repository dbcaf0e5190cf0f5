-- Contacts for the callback worklist: per number (digits only), the last time it
-- was called back (an outbound call to it, any outcome) or reached (an answered
-- inbound call from it), among some calls of the scope (any extension, no call
-- filter). "Some contact after the last missed call" is "the last contact is after
-- it", so one row per number is enough, and the rows of several spans merge by max.
-- Metric "contacts": the calls of a period (its base rows: a page's page_calls);
-- "contacts_after": the lake's calls from the period's end on (open-ended).
-- Placeholders filled by pipeline.metric_engine: contact_calls (those calls with the
-- columns below; caller_digits as base_calls.sql derives it, for inbound calls) and
-- callee_digits (the expression of pipeline.filters).
with final as (
    select
        case
            when direction = 'outbound' then {callee_digits}
            else caller_digits
        end as number,
        max(started_at) as last_contact_at
    from {contact_calls}
    where direction = 'outbound' or (direction = 'inbound' and disposition = 'answered')
    group by number
)

select * from final
