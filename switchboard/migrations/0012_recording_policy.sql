-- Call recording policy (issue 13): per tenant default, per user, per queue.
-- mode: 'always' (rtpengine records from the first SDP), 'never', or 'on_demand'
-- (not recorded until the user presses Record; the portal calls relay/ng.py).
-- scope 'tenant' has target ''; 'user' an extension; 'queue' a call_queue id.
create table recording_policy (
    tenant_id integer not null references tenant(id),
    scope text not null check (scope in ('tenant', 'user', 'queue')),
    target text not null default '',
    mode text not null check (mode in ('always', 'never', 'on_demand')),
    changed_at real not null,
    primary key (tenant_id, scope, target)
);

-- What Kamailio's htable `recpol` loads (the htable DB layout, version 2): key
-- '<scope>:<tenant>[:<target>]', value the mode. kamailio.cfg route RECORDING_POLICY
-- reads it; a change is seen after `htable.reload recpol` (kamailio/recording_push.py).
create view recording_policy_htable as
select
    p.scope || ':' || t.domain || case when p.target = '' then '' else ':' || p.target end
        as key_name,
    0 as key_type,
    0 as value_type,
    p.mode as key_value,
    0 as expires
from recording_policy as p
join tenant as t on t.id = p.tenant_id;

insert into version (table_name, table_version) values ('recording_policy_htable', 2)
