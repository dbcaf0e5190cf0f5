-- Contacts for the callback worklist: per number (digits only), the last time it
-- was called back (an outbound call to it, any outcome) or reached (an answered
-- inbound call from it), among calls since $since_date (any extension, also after
-- the period). "Some contact after the last missed call" is "the last contact is
-- after it", so one row per number is enough. {callee_digits}/{caller_digits}:
-- the expressions of pipeline.filters. Stored once per page as page_contacts.
with final as (
    select
        case
            when direction = 'outbound' then {callee_digits}
            else {caller_digits}
        end as number,
        max(started_at) as last_contact_at
    from calls
    where date >= $since_date
        and (direction = 'outbound' or (direction = 'inbound' and disposition = 'answered'))
    group by number
)

select * from final
