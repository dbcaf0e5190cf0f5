-- Portal sessions live in a signed cookie the server cannot recall, so each one carries the
-- user's session_version from its sign-in and is honoured only while the row still holds it.
-- Bumped (AccountsSection._end_sessions) by sign-out, a password change or reset, disabling
-- and a role change: every session signed in before then is over. New rows start at a random
-- value, so a reused user id (SQLite reuses the highest rowid) matches no removed user's session.
alter table user add column session_version integer not null default 0
