-- Data-access audit trail (issue 13): every play, download and delete of a call
-- recording or a voicemail message, by whom, when and from which address.

-- One row per access. actor and actor_name are copied, not referenced: the trail
-- must outlive the user (a removed user's accesses stay readable). Repeated requests
-- of one object by one actor for one action within a short window (an audio element
-- asks for byte ranges as the listener seeks) are one access: requests counts them,
-- last_at is the latest. object_label says what the object was ("mailbox 102",
-- "call 101 to 102"), so the row reads on its own after the object is gone.
create table access_log (
    id integer primary key autoincrement,
    tenant_id integer not null references tenant(id),
    at real not null,
    last_at real not null,
    actor text not null,
    actor_name text not null default '',
    actor_role text not null default '',
    object_kind text not null check (object_kind in ('recording', 'voicemail')),
    object_id text not null,
    object_label text not null default '',
    action text not null check (action in ('play', 'download', 'delete')),
    client text not null default '',
    requests integer not null default 1 check (requests >= 1)
);
create index access_log_tenant_at on access_log(tenant_id, at);
create index access_log_repeat on access_log(tenant_id, actor, object_kind, object_id, action, last_at)
