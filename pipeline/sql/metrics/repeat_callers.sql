-- Repeat callers: one row per external caller (digits of the number) with
-- inbound calls in scope. A call is "followed" when the same number calls in
-- again at most $window_seconds after it started (only calls in scope count).
-- Computed once per period: the table (pipeline.metric_callers keeps the rows with
-- is_repeat_caller; most callers are not) and repeat_summary.sql read these rows.
with scoped as (
    {scoped_calls}
),

inbound as (
    select
        caller_digits,
        caller,
        caller_name,
        started_at,
        is_answered,
        lead(started_at) over (
            partition by caller_digits order by started_at, acc_id
        ) as next_started_at
    from scoped
    where is_external_caller
),

flagged as (
    select
        *,
        next_started_at is not null
            and next_started_at <= started_at + to_seconds($window_seconds) as is_followed
    from inbound
),

final as (
    select
        caller_digits as number,
        min(caller) as caller,
        max(caller_name) as caller_name,
        count(*) as calls,
        count(*) filter (where is_answered) as answered,
        count(*) filter (where not is_answered) as not_answered,
        count(*) filter (where is_answered and is_followed) as answered_then_repeated,
        bool_or(is_followed) as is_repeat_caller,
        min(started_at) as first_call_at,
        max(started_at) as last_call_at
    from flagged
    group by caller_digits
)

select * from final
order by calls desc, number
