-- Voicemail: the mutable state of each message and each mailbox's settings.
-- The facts of a message (caller, times, duration, transcript) live in the lake;
-- this is what the user changes: folder, read flag, trash, forwarded copies, email sent.
create table voicemail_message (
    message_id text primary key,
    tenant_id integer not null references tenant(id),
    mailbox text not null,
    -- the lake message whose audio and transcript this row shows (itself, or the
    -- original of a forwarded copy)
    source_id text not null,
    forwarded_by text,
    folder text not null default 'new' check (folder in ('new', 'saved', 'trash')),
    -- where a restore from the trash puts the message back
    folder_before_trash text check (folder_before_trash in ('new', 'saved')),
    is_read integer not null default 0,
    deleted_at real,
    started_at real not null,
    duration real not null,
    audio_path text not null,
    transcribed_at real,
    email_state text not null default 'pending'
        check (email_state in ('pending', 'sent', 'skipped', 'failed')),
    emailed_at real,
    created_at real not null
);
create index voicemail_message_box on voicemail_message(tenant_id, mailbox, folder);
create index voicemail_message_source on voicemail_message(source_id);

create table voicemail_box (
    tenant_id integer not null references tenant(id),
    mailbox text not null,
    pin_hash text,
    active_greeting text not null default 'unavailable'
        check (active_greeting in ('unavailable', 'busy', 'custom')),
    greeting_unavailable text,
    greeting_busy text,
    greeting_custom text,
    message_order text not null default 'newest' check (message_order in ('newest', 'oldest')),
    announce_timestamp integer not null default 1,
    email_enabled integer not null default 1,
    email_attach_audio integer not null default 1,
    primary key (tenant_id, mailbox)
)
