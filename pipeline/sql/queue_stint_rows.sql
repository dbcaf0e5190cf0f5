-- Staging of the queue metrics (docs/metrics.md, "Queue metrics"): one row per stint,
-- i.e. one caller's entry into one queue and what became of it, before the queue's
-- thresholds are attached (queue_stints.sql). Counted by entry: a call that overflows
-- from queue 1 to queue 2 is a stint in each. Parameters: $stints_from, $read_to (UTC;
-- the period widened by a day so a stint crossing its edge is whole), $queue_id (null:
-- every queue). The placeholders queue_events and agent_events name the views. Also what
-- compaction writes for a closed day (the rollup queue_stints: pipeline.queue_metrics'
-- day_stints), so nothing here may depend on anything but the events.
with events as (
    select
        queue_id,
        call_id,
        kind,
        "at",
        caller,
        agent,
        wait,
        talk,
        target,
        outcome,
        batch_id,
        seq
    from {queue_events}
    -- the date partitions first: DuckDB then opens only those files
    where "date" between cast($stints_from as date) and cast($read_to as date)
        and "at" >= $stints_from
        and "at" < $read_to
        and ($queue_id is null or queue_id = $queue_id)
),

restarts as (
    select
        queue_id,
        "at" as restart_at
    from events
    where kind = 'restart'
),

-- Why: the same call may enter the same queue again (overflow to itself, a re-entry);
-- each enter opens a new stint, numbered in event order, that holds the events up to the
-- next enter. Numbered over the enters only, then joined: a running count over every
-- event was most of the cost (3 of 4 s over a year of 700,000 events).
enters as (
    select
        queue_id,
        call_id,
        row_number() over w as stint_no,
        ("at", batch_id, seq) as opened,
        lead(("at", batch_id, seq)) over w as next_opened
    from events
    where kind = 'enter'
    window w as (partition by queue_id, call_id order by "at", batch_id, seq)
),

numbered as (
    select
        e.*,
        n.stint_no
    from events as e
    inner join enters as n
        on n.queue_id is not distinct from e.queue_id
        and n.call_id is not distinct from e.call_id
        and (e."at", e.batch_id, e.seq) >= n.opened
        and (n.next_opened is null or (e."at", e.batch_id, e.seq) < n.next_opened)
    where e.kind <> 'restart'
),

stints as (
    select
        queue_id,
        call_id,
        stint_no,
        min("at") filter (where kind = 'enter') as entered_at,
        max(caller) as caller,
        min("at") filter (where kind = 'connect') as connected_at,
        min(agent) filter (where kind = 'connect') as agent,
        min(wait) filter (where kind = 'connect') as answer_wait,
        min("at") filter (where kind = 'complete') as completed_at,
        min(talk) filter (where kind = 'complete') as talk_seconds,
        min(kind) filter (where kind in ('abandon', 'overflow', 'exit_key')) as end_kind,
        min("at") filter (where kind in ('abandon', 'overflow', 'exit_key')) as ended_at,
        min(wait) filter (where kind in ('abandon', 'overflow', 'exit_key')) as end_wait,
        min(outcome) filter (where kind = 'overflow') as overflow_reason,
        min(target) filter (where kind in ('overflow', 'exit_key')) as sent_to,
        count(*) filter (where kind = 'offer') as offers
    from numbered
    group by queue_id, call_id, stint_no
),

-- A stint still open when the media server restarted was lost in the crash: counted
-- (offered, not answered), its wait running to the restart.
with_restart as (
    select
        s.*,
        (
            select min(r.restart_at)
            from restarts as r
            where r.queue_id = s.queue_id
                and r.restart_at > s.entered_at
        ) as restart_at
    from stints as s
    where s.entered_at is not null
),

wraps as (
    select
        agent,
        queue_id,
        "at" as wrap_start,
        lead("at") over (partition by agent, queue_id order by "at", batch_id, seq) as wrap_end,
        lead(kind) over (partition by agent, queue_id order by "at", batch_id, seq) as next_kind,
        kind
    from {agent_events}
    where kind in ('wrapup_start', 'wrapup_end')
        and "date" between cast($stints_from as date) and cast($read_to as date)
        and "at" >= $stints_from
        and "at" < $read_to
),

wrap_starts as (
    select
        agent,
        queue_id,
        wrap_start,
        case when next_kind = 'wrapup_end' then wrap_end end as wrap_end
    from wraps
    where kind = 'wrapup_start'
),

-- The wrap-up of an answered stint is the agent's first wrap-up in that queue starting at
-- its completion (the media server starts it at once; a second of slack before).
-- Why completions and wrap-ups counted together in one window, not an as-of join: DuckDB plans an
-- as-of join whose left side it estimates small as a nested loop (a quarter: 24 M rows, 4 s).
wrap_stream as (
    select
        agent,
        queue_id,
        call_id,
        stint_no,
        completed_at - interval 1 second as t,
        0 as side,
        null::struct(wrap_start timestamptz, wrap_end timestamptz) as wrap
    from with_restart
    where completed_at is not null
        and agent is not null
    union all
    select
        agent,
        queue_id,
        null as call_id,
        null as stint_no,
        wrap_start as t,
        1 as side,
        {{'wrap_start': wrap_start, 'wrap_end': wrap_end}} as wrap
    from wrap_starts
),

-- Each row with the number of wrap-ups up to it: a completion's wrap-up is the next one.
counted_wraps as (
    select
        *,
        sum(side) over (
            partition by agent, queue_id
            order by t, side, call_id, stint_no, wrap
            rows between unbounded preceding and current row
        ) as wraps_so_far
    from wrap_stream
),

next_wraps as (
    select
        s.queue_id,
        s.call_id,
        s.stint_no,
        w.wrap.wrap_start as wrap_start,
        w.wrap.wrap_end as wrap_end
    from counted_wraps as s
    inner join counted_wraps as w
        on w.agent = s.agent
        and w.queue_id = s.queue_id
        and w.wraps_so_far = s.wraps_so_far + 1
        and w.side = 1
    where s.side = 0
),

with_wrap as (
    select
        s.*,
        case
            when w.wrap_start <= s.completed_at + interval 5 second
                then epoch(w.wrap_end) - epoch(w.wrap_start)
        end as wrap_seconds
    from with_restart as s
    left join next_wraps as w
        on w.queue_id = s.queue_id
        and w.call_id = s.call_id
        and w.stint_no = s.stint_no
),

final as (
    select
        s.queue_id,
        s.call_id,
        s.stint_no,
        s.caller,
        s.entered_at,
        case
            when s.connected_at is not null then 'answered'
            when s.end_kind = 'abandon' then 'abandoned'
            when s.end_kind = 'overflow' then 'overflowed'
            when s.end_kind = 'exit_key' then 'exit_key'
            when s.restart_at is not null then 'lost'
            else 'waiting'
        end as outcome,
        s.agent,
        s.connected_at,
        s.completed_at,
        case
            when s.connected_at is not null then s.answer_wait
            when s.end_kind is not null then s.end_wait
            when s.restart_at is not null then epoch(s.restart_at) - epoch(s.entered_at)
        end as wait_seconds,
        s.talk_seconds,
        coalesce(s.wrap_seconds, 0.0) as wrap_seconds,
        s.overflow_reason,
        s.sent_to,
        s.offers
    from with_wrap as s
)

select * from final
