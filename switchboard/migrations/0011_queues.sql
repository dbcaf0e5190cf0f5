-- Call queues, their members and agent state (issue 12).
-- Destinations are JSON {"kind", "target"} like the menus' (switchboard.attendants);
-- a member's login and an agent's pause live here so they survive a media-server restart.
create table call_queue (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    name text not null,
    extension text,
    strategy text not null default 'ring_all'
        check (strategy in ('ring_all', 'round_robin', 'longest_idle', 'fewest_calls', 'linear')),
    ring_seconds integer not null default 15,
    wrapup_seconds integer not null default 10,
    max_wait_seconds integer not null default 300,
    max_callers integer not null default 10,
    overflow_json text,
    join_empty integer not null default 1,
    hold_music_id integer references hold_music(id) on delete set null,
    announce_seconds integer not null default 30,
    exit_key text,
    exit_json text,
    service_level_seconds integer not null default 20,
    short_abandon_seconds integer not null default 5,
    pause_on_no_answer integer not null default 0,
    unique (tenant_id, name),
    unique (tenant_id, extension)
);

create table queue_member (
    queue_id integer not null references call_queue(id) on delete cascade,
    user_id integer not null references user(id) on delete cascade,
    priority integer not null default 1,
    logged_in integer not null default 0,
    changed_at real,
    primary key (queue_id, user_id)
);

create table agent_pause (
    user_id integer primary key references user(id) on delete cascade,
    reason text not null,
    since real not null
)
