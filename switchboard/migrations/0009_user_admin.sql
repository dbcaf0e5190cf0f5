-- Running users from the portal: disable, one-time passwords, caller IDs, preferences, removal.

-- A disabled user cannot sign in; their SIP credentials wait in subscriber_parked.
alter table user add column disabled_at real;
-- Set by a one-time password (a manager's reset, a new user): the next sign-in must choose one.
alter table user add column must_change_password integer not null default 0;
-- When the one-time password stops working (null: the password does not expire).
alter table user add column password_expires_at real;
-- The outbound caller ID the user chose among the numbers they may use ('' : the default).
alter table user add column caller_id text not null default '';
-- Portal preferences (which Home sections show), a JSON object.
alter table user add column preferences_json text not null default '{}';

-- Main numbers a manager lets a user show as caller ID.
create table caller_id_allowed (
    user_id integer not null references user(id) on delete cascade,
    did_id integer not null references did(id) on delete cascade,
    primary key (user_id, did_id)
);

-- Kamailio authenticates only against subscriber: a disabled user's rows move here and back.
create table subscriber_parked (
    username varchar(64) not null,
    domain varchar(64) not null,
    password varchar(64) not null default '',
    ha1 varchar(128) not null default '',
    ha1b varchar(128) not null default '',
    parked_at real not null,
    primary key (username, domain)
);

-- The mailbox of a removed user, kept until keep_until, then purged.
create table removed_mailbox (
    tenant_id integer not null references tenant(id),
    mailbox text not null,
    user_name text not null,
    removed_at real not null,
    keep_until real not null,
    primary key (tenant_id, mailbox)
);
