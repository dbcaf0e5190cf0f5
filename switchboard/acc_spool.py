"""The accounting spool's columns: the contract between Kamailio (writer) and the pipeline (reader).

Kamailio writes one row per call attempt into table ``cdr`` of
``kamailio-acc.sqlite``; the pipeline reads it by id. Both sides need the
same column list, so it is declared here, once, in the core they both use:
``kamailio/launcher.py`` renders ``WRITTEN_COLUMNS`` into the INSERT of the
routing config's CDR writer, and ``pipeline.acc`` selects ``ACC_COLUMNS`` by
name. ``kamailio/acc_schema.sql`` creates the table (types and comments per
column); a test fails when it and this tuple disagree. Columns are only ever
appended: ``kamailio/launcher.py`` adds the missing ones to an older spool, and
rows written before a column existed read NULL in it.
"""

from __future__ import annotations

ACC_TABLE = "cdr"

# Column order of ``kamailio/acc_schema.sql``.
ACC_COLUMNS: tuple[str, ...] = (
    "id",
    "call_id",
    "tenant",
    "direction",
    "caller",
    "caller_name",
    "caller_domain",
    "callee",
    "callee_domain",
    "answered_by",
    "invite_at",
    "answer_at",
    "end_at",
    "sip_code",
    "sip_reason",
    "disposition_hint",
    "rule",
    "frame",
    "src_ip",
    "user_agent",
    "origin_call_id",
    # Append only: an older spool gains new columns at the end (kamailio/launcher.py).
    "recording_outcome",
)

# What Kamailio inserts: every column but the AUTOINCREMENT id the spool assigns.
WRITTEN_COLUMNS: tuple[str, ...] = ACC_COLUMNS[1:]
