-- Numbers the operator allocated to a tenant (`switchboard did allocate`), issue 9.
-- A manager may put only these on the company's main-number list and never claim
-- another one; a number is allocated to one tenant at a time.
create table did_allocation (
    number text primary key,
    tenant_id integer not null references tenant(id),
    allocated_at real not null
);
-- Main numbers that exist already were the operator's doing: they count as allocated.
insert into did_allocation (number, tenant_id, allocated_at)
select number, tenant_id, cast(strftime('%s', 'now') as real) from did;

-- The portal's per-address login limit counts failures by address (any login).
create index login_attempt_address on login_attempt(address, at);
