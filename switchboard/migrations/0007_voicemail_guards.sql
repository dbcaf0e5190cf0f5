-- Voicemail guards (issue 9): PIN guessing by phone is limited across calls, and
-- voicemail-to-email retries a failed message with backoff instead of dropping it
-- or holding up the others.

-- One row per wrong PIN entered by phone; only the rows inside the counting window
-- matter (older ones are deleted whenever a failure is recorded).
create table voicemail_pin_failure (
    tenant_id integer not null references tenant(id),
    mailbox text not null,
    at real not null
);
create index voicemail_pin_failure_box on voicemail_pin_failure(tenant_id, mailbox, at);

-- A mailbox whose phone access is refused until locked_until (epoch seconds);
-- failures: how many wrong PINs locked it (for the portal's sentence).
create table voicemail_pin_lock (
    tenant_id integer not null references tenant(id),
    mailbox text not null,
    locked_at real not null,
    locked_until real not null,
    failures integer not null,
    primary key (tenant_id, mailbox)
);

-- email_state 'failed' with email_retry_at: tried email_attempts times, tried again
-- from email_retry_at; 'failed' without it: given up. email_error: the server's last word.
alter table voicemail_message add column email_attempts integer not null default 0;
alter table voicemail_message add column email_retry_at real;
alter table voicemail_message add column email_error text
