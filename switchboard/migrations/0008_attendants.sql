-- Auto attendants (menus), announcements and the hold-music library (issue 11).
-- Destinations are JSON {"kind", "target"} (switchboard.attendants.MenuDestination);
-- the store checks at save time that every target exists, and refuses to delete
-- a menu or an announcement something still points to (it names what).
create table attendant (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    name text not null,
    greeting_text text not null default '',
    greeting_file text not null default '',
    timeout_seconds integer not null default 5,
    max_repeats integer not null default 2,
    options_json text not null default '{}',
    no_input_json text not null,
    invalid_json text not null,
    unique (tenant_id, name)
);

create table announcement (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    name text not null,
    text text not null default '',
    audio_file text not null default '',
    then_json text,
    unique (tenant_id, name)
);

create table hold_music (
    id integer primary key,
    tenant_id integer not null references tenant(id),
    name text not null,
    audio_file text not null,
    is_default integer not null default 0,
    unique (tenant_id, name)
);
-- One default track per tenant at most.
create unique index hold_music_one_default on hold_music(tenant_id) where is_default = 1
