-- Repeat-caller rate and the first-contact-resolution proxy over external callers:
-- over repeat_per_caller, the rows of repeat_callers.sql (each repeat caller, and
-- one row summing the others) that pipeline.metric_engine registers (the table of
-- repeat callers reads the same rows).
with per_caller as (
    select * from repeat_per_caller
),

final as (
    select
        cast(coalesce(sum(callers), 0) as bigint) as external_callers,
        count(*) filter (where is_repeat_caller) as repeat_callers,
        count(*) filter (where is_repeat_caller) / nullif(sum(callers), 0) as repeat_caller_rate,
        cast(coalesce(sum(answered), 0) as bigint) as answered_external,
        cast(coalesce(sum(answered_then_repeated), 0) as bigint) as answered_then_repeated,
        1 - sum(answered_then_repeated) / nullif(sum(answered), 0) as fcr_proxy
    from per_caller
)

select * from final
