-- Time frames (tenant-wide when user_id is null), answering rules and manual overrides.
create table time_frame (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    user_id integer references user(id),
    name text not null,
    timezone text not null,
    periods_json text not null default '[]',
    unique (tenant_id, user_id, name)
);

create table answering_rule (
    id integer primary key,
    user_id integer not null references user(id),
    name text not null,
    priority integer not null,
    frame_id integer references time_frame(id),
    enabled integer not null default 1,
    actions_json text not null,
    unique (user_id, name)
);

create table rule_override (
    user_id integer primary key references user(id),
    actions_json text not null,
    until_utc text not null
)
