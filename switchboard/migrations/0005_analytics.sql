-- Analytics: callback-worklist marks, scheduled reports and every run of them.
-- Times are epoch seconds (UTC). Written by switchboard/store.py only.

-- "Mark handled" on the callback worklist: hides the number until it misses another call.
create table callback_handled (
    tenant_id integer not null references tenant(id),
    number text not null,
    handled_at real not null,
    handled_by integer references user(id) on delete set null,
    primary key (tenant_id, number)
);

-- A scheduled export: what (kind + query), format, when (cron in a zone), where.
create table report_schedule (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    name text not null,
    kind text not null check (kind in ('calls', 'kpis')),
    query_json text not null default '{}',
    format text not null check (format in ('csv', 'xlsx', 'parquet')),
    cron text not null,
    timezone text not null,
    to_folder integer not null default 1,
    emails text not null default '',
    created_by integer references user(id) on delete set null,
    created_at real not null,
    last_due_at real,
    unique (tenant_id, name)
);

-- One row per run; (schedule, due time) is unique, so a due time never runs twice.
create table report_run (
    id integer primary key,
    schedule_id integer not null references report_schedule(id) on delete cascade,
    due_at real not null,
    started_at real not null,
    finished_at real,
    rows integer,
    file text,
    emailed_to text,
    error text,
    unique (schedule_id, due_at)
)
