-- The recordings the policy asked for and rtpengine could not make, calls' and bridged
-- legs' alike, committed after accounting row $after_acc_id and started since $since (a UTC
-- instant): what pipeline.recording_alerts has not seen yet. They are the rows of the
-- Missing list itself (recording_list.sql with $missing, the one definition of a missing
-- recording), put in place by pipeline.recording_alerts (str.format: no braces in comments)
-- and bound with the list's parameters: no other filter, no limit. acc_id is the lake's commit
-- order (calls and legs come from one accounting table), so the cursor holds for both.
-- The views are the tenant's (pipeline.warehouse.connect without an extension).
with final as (
    select
        call_id,
        captured_call_id,
        acc_id,
        caller,
        callee,
        started_at
    from (
        {missing_list}
    )
    where acc_id > $after_acc_id
)

select * from final
order by acc_id
