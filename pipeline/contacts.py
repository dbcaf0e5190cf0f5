"""Contact names in the warehouse: a number shows as its contact's name in every reader.

Why here and once: Call History, its exports, the callback worklist, Home's
recent calls and voicemail all read the warehouse's ``calls`` and
``voicemails`` views, so naming numbers in those views names them everywhere,
and no page joins contacts itself. The names come from the provisioning store
(``ProvisioningStore.contact_names``: the tenant's shared contacts and the
viewer's own) and are handed to :func:`pipeline.warehouse.connect` as bound
values in a temp table; the views are wrapped only when there are names, so a
tenant without contacts pays nothing.

Which names change: an inbound call's caller and an outbound call's callee
(the outside party), and a voicemail's caller; a contact's name wins over the
display name the carrier sent. Internal calls keep the colleague names the
pipeline gave them. Numbers match on digits only, as the call filters compare
them (``pipeline.filters.CALLER_DIGITS``).
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from pipeline.filters import CALLEE_DIGITS, CALLER_DIGITS

CONTACT_NAMES_TABLE = (
    "create temp table contact_names (digits varchar primary key, name varchar not null)"
)

# The lake's views keep their data under these names; the named views take theirs.
_WRAPPED_CALLS = "calls_as_ingested"
_WRAPPED_VOICEMAILS = "voicemails_as_ingested"

_NAMED_CALLS = f"""
create view calls as
select
    c.* replace (
        case when c.direction = 'inbound' then coalesce(ci.name, c.caller_name)
            else c.caller_name end as caller_name,
        case when c.direction = 'outbound' then coalesce(ce.name, c.callee_name)
            else c.callee_name end as callee_name
    )
from {_WRAPPED_CALLS} as c
left join contact_names as ci on ci.digits = {CALLER_DIGITS.replace("caller", "c.caller")}
left join contact_names as ce on ce.digits = {CALLEE_DIGITS.replace("callee", "c.callee")}
"""

_NAMED_VOICEMAILS = f"""
create view voicemails as
select
    v.* replace (coalesce(n.name, v.caller_name) as caller_name)
from {_WRAPPED_VOICEMAILS} as v
left join contact_names as n on n.digits = {CALLER_DIGITS.replace("caller", "v.caller")}
"""


def give_contact_rows(conn: duckdb.DuckDBPyConnection, rows: tuple[tuple[str, str], ...]) -> None:
    """The temp table ``contact_names`` with ``rows`` (digits, name) on ``conn``: every
    connection to a database whose views :func:`name_numbers` wrapped needs its own."""
    conn.execute(CONTACT_NAMES_TABLE)
    conn.executemany("insert into contact_names values (?, ?)", [list(row) for row in rows])


def name_numbers(
    conn: duckdb.DuckDBPyConnection, names: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """Wrap ``calls`` and ``voicemails`` so known numbers show their contact's name.

    Called by :func:`pipeline.warehouse.connect` once its views exist and before
    anything depends on them or the configuration is locked; ``names`` maps
    digits to a name. Returns the rows of the temp table ``contact_names`` it made
    (none: no table): every other connection to the database needs them too.
    """
    rows = tuple((d, n) for d, n in names.items() if d and d.isdigit() and n)
    if not rows:
        return ()
    give_contact_rows(conn, rows)
    conn.execute(f"alter view calls rename to {_WRAPPED_CALLS}")
    conn.execute(_NAMED_CALLS)
    conn.execute(f"alter view voicemails rename to {_WRAPPED_VOICEMAILS}")
    conn.execute(_NAMED_VOICEMAILS)
    return rows
