-- Whose scope a scheduled report reads (issue 9): its owner's extension and role as they
-- were when it was saved. Empty: saved by the operator's tools (the whole tenant). At each
-- run pipeline.schedules narrows this to the owner's rights then, and refuses to run once
-- the owner is removed or disabled (created_by goes null when the user row goes).
alter table report_schedule add column owner_extension text not null default '';
alter table report_schedule add column owner_role text not null default '';
update report_schedule
set
    owner_extension = coalesce((select u.extension from user as u where u.id = created_by), ''),
    owner_role = coalesce((select u.role from user as u where u.id = created_by), '')
where created_by is not null
