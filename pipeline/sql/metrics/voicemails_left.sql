-- Voicemails left: messages in the voicemails view recorded in the period
-- (discarded ones excluded when the view says so). {conditions} is built from
-- the columns the view has; the view is optional (0 without it).
with final as (
    select count(*) as voicemails_left
    from voicemails
    where {conditions}
)

select * from final
