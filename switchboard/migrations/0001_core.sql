-- Tenants, users and Kamailio's own tables (subscriber, version).
create table tenant (
    id integer primary key,
    domain text not null unique,
    name text not null,
    timezone text not null,
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

create table user (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    extension text not null,
    name text not null,
    email text not null,
    password_hash text not null,
    role text not null check (role in ('manager', 'supervisor', 'agent', 'user')),
    timezone text,
    status_message text not null default '',
    created_at text not null default (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    unique (tenant_id, extension)
);

-- Kamailio auth_db reads this table (version 7 layout); it holds HA1, never the plain password.
create table subscriber (
    id integer primary key autoincrement,
    username varchar(64) not null default '',
    domain varchar(64) not null default '',
    password varchar(64) not null default '',
    ha1 varchar(128) not null default '',
    ha1b varchar(128) not null default '',
    unique (username, domain)
);

create table version (
    table_name varchar(32) not null primary key,
    table_version integer not null default 0
);
insert into version (table_name, table_version) values ('subscriber', 7);

create table login_attempt (
    id integer primary key,
    login text not null,
    address text not null,
    at real not null
);
create index login_attempt_login on login_attempt(login, at);
