-- Repeat callers: one row per external caller (digits of the number) with
-- inbound calls in scope. A call is "followed" when the same number calls in
-- again at most $window_seconds after it started (only calls in scope count).
-- Computed once per period: the table (pipeline.metric_callers keeps the rows with
-- is_repeat_caller) and repeat_summary.sql read these rows. Most callers are not
-- repeat callers and neither reader looks at them one by one, so they come as one
-- row of sums (number null, callers = how many; ~3/4 of the rows and of the time
-- to fetch and sort them at 10 M calls a year).
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

per_caller as (
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
        max(started_at) as last_call_at,
        1 as callers
    from flagged
    group by caller_digits
),

final as (
    select * from per_caller where is_repeat_caller
    union all
    select
        null,
        null,
        null,
        cast(sum(calls) as bigint),
        cast(sum(answered) as bigint),
        cast(sum(not_answered) as bigint),
        cast(sum(answered_then_repeated) as bigint),
        false,
        min(first_call_at),
        max(last_call_at),
        count(*)
    from per_caller
    where not is_repeat_caller
    having count(*) > 0
)

select * from final
order by is_repeat_caller desc, calls desc, number
