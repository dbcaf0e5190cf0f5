-- Calls whose recording the policy asked for and rtpengine could not make
-- (recording_outcome 'missing'), committed after accounting row $after_acc_id and
-- started since $since (a UTC instant): what pipeline.recording_alerts has not seen yet.
-- The view is the tenant's (pipeline.warehouse.connect without an extension).
with final as (
    select
        call_id,
        acc_id,
        caller,
        callee,
        started_at
    from calls
    where
        recording_outcome = 'missing'
        and acc_id > $after_acc_id
        and started_at >= $since
)

select * from final
order by acc_id
