-- Recording retention per tenant (issue 13): the pipeline worker removes recordings
-- older than keep_days (pipeline.lake_deletion), each removal in the audit trail as a
-- deletion by 'system:retention'. No row: recordings are kept until deleted by hand.
create table recording_retention (
    tenant_id integer primary key references tenant(id),
    keep_days integer not null check (keep_days >= 1 and keep_days <= 36500),
    changed_at real not null
)
