-- Main numbers (DIDs) with their own time-frame routes, and the decisions Kamailio loads.
create table did (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    number text not null unique,
    name text not null
);

create table did_rule (
    id integer primary key,
    did_id integer not null references did(id),
    name text not null,
    priority integer not null,
    frame_id integer references time_frame(id),
    enabled integer not null default 1,
    actions_json text not null,
    unique (did_id, name)
);

-- Kamailio's htable layout (version 2); written by kamailio/rules_push.py only.
-- key_name: '<tenant>:<extension>' or 'did:<number>'; key_value: compiled decision.
create table rule_decision (
    id integer primary key autoincrement,
    key_name varchar(64) not null default '',
    key_type integer not null default 0,
    value_type integer not null default 0,
    key_value varchar(1024) not null default '',
    expires integer not null default 0,
    unique (key_name)
);
insert into version (table_name, table_version) values ('rule_decision', 2)
