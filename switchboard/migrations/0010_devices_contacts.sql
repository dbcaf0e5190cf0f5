-- Devices (a SIP credential per phone of an extension) and contacts (personal and shared).

-- A device's SIP credential is its own subscriber row, username <extension>-<slug>
-- (extensions are digits only, so the two never collide); Kamailio's route AUTH lets
-- it speak only for <extension>. Last seen is kept here so an offline phone shows it.
create table device (
    id integer primary key,
    user_id integer not null references user(id) on delete cascade,
    name text not null,
    username text not null,
    created_at real not null,
    last_seen_at real,
    last_user_agent text not null default '',
    last_address text not null default '',
    unique (user_id, name),
    unique (user_id, username)
);

-- owner_id null: shared with the whole tenant (managers edit those).
create table contact (
    id integer primary key,
    tenant_id integer not null references tenant(id) on delete cascade,
    owner_id integer references user(id) on delete cascade,
    name text not null,
    company text not null default '',
    email text not null default '',
    phone text not null default '',
    mobile text not null default '',
    -- digits only, what calls are matched on ('' : none)
    phone_digits text not null default '',
    mobile_digits text not null default '',
    created_at real not null
);
create index contact_tenant on contact(tenant_id, owner_id);

-- A star is each user's own, also on a shared contact.
create table contact_favourite (
    user_id integer not null references user(id) on delete cascade,
    contact_id integer not null references contact(id) on delete cascade,
    primary key (user_id, contact_id)
);
