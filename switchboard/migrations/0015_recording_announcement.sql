-- The "this call may be recorded" notice per tenant (issue 13): a row means on. An
-- inbound call from the carrier that may be recorded (policy always or on_demand) hears
-- it from rtpengine's media player right after the answer (kamailio.cfg MEDIA_ANSWER).
create table recording_announcement (
    tenant_id integer primary key references tenant(id),
    changed_at real not null
);

-- Kamailio's htable `recpol` also carries 'announce:<tenant>' -> 'on' (same reload).
drop view recording_policy_htable;
create view recording_policy_htable as
select
    p.scope || ':' || t.domain || case when p.target = '' then '' else ':' || p.target end
        as key_name,
    0 as key_type,
    0 as value_type,
    p.mode as key_value,
    0 as expires
from recording_policy as p
join tenant as t on t.id = p.tenant_id
union all
select 'announce:' || t.domain, 0, 0, 'on', 0
from recording_announcement as a
join tenant as t on t.id = a.tenant_id
