-- Who removed the user whose mailbox is kept (issue 13's audit trail): when the kept
-- mailbox is purged, each message dropped is a deletion by them (empty: by the system,
-- system:retention). Their login, name and role as they were at the removal.
alter table removed_mailbox add column removed_by text not null default '';
alter table removed_mailbox add column removed_by_name text not null default '';
alter table removed_mailbox add column removed_by_role text not null default ''
