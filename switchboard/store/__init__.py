"""The provisioning store: the only writer of ``switchboard.sqlite``.

Kamailio reads ``subscriber`` and ``rule_decision`` from the same file (digest
auth, the htable of compiled decisions); the portal, the CLI, the media server
and the pipeline read and change provisioning only through this package, never
with their own connection. Migrations are the numbered
``switchboard/migrations/*.sql`` files, applied once each at open.

``ProvisioningStore`` is one class assembled from one section per concern,
each a module holding one mixin over the shared connection:

- ``connection``: the connection, migrations and ``_tx``, the one transaction
  helper every write goes through;
- ``accounts``: tenants, users, portal login (every other section builds on it);
- ``routing``: time frames, answering rules, overrides, main numbers (DIDs) and
  the decisions Kamailio loads;
- ``voicemail``: message state, mailbox settings, greetings, PIN;
- ``pin_locks``: wrong phone PINs counted across calls, the lock they lead to;
- ``reports``: callback-worklist marks, report schedules and their runs.
- ``recording_policy``: who gets recorded (always / never / on demand) per tenant,
  user and queue; Kamailio reads it as the htable ``recpol``.
- ``access_log``: the audit trail of who played, downloaded or deleted call audio.
- ``recording_retention``: how long each tenant keeps its call recordings.
- ``user_admin``: users after they exist (edit, disable, remove, one-time and SIP
  passwords, caller IDs, preferences, bulk import); a section keeping more per
  user joins in through the ``_credential_rows`` and ``_forget_user`` hooks of
  ``accounts``.

Adding a section (queues, attendants, contacts, devices, …) is a new module
with ``class QueuesSection(AccountsSection)`` and its migration, plus one line:
its class in the bases of ``ProvisioningStore`` below.

Errors: every refusal is a ``ProvisioningError`` whose message says what is
wrong, so the CLI and the portal can show it as-is; a broken schema constraint
is turned into one too, so no caller catches ``sqlite3`` errors.
"""

from __future__ import annotations

from pathlib import Path

from switchboard.store.access_log import AccessLogSection
from switchboard.store.accounts import (
    ROLES,
    TENANT_WIDE_ROLES,
    AccountsSection,
    Role,
    Tenant,
    User,
)
from switchboard.store.attendants import AttendantsSection
from switchboard.store.connection import ProvisioningError
from switchboard.store.contacts import ContactsSection
from switchboard.store.devices import DevicesSection
from switchboard.store.passwords import sip_ha1
from switchboard.store.pin_locks import PinLock, PinLockPolicy, PinLocksSection
from switchboard.store.queues import QueuesSection
from switchboard.store.recording_policy import RecordingPolicySection
from switchboard.store.recording_retention import RecordingRetentionSection
from switchboard.store.reports import ReportsSection
from switchboard.store.routing import Did, RoutingInputs, RoutingSection
from switchboard.store.user_admin import Credentials, Removal, UserAdminSection
from switchboard.store.voicemail import VoicemailSection

__all__ = [
    "ROLES",
    "TENANT_WIDE_ROLES",
    "Credentials",
    "Did",
    "PinLock",
    "PinLockPolicy",
    "ProvisioningError",
    "ProvisioningStore",
    "Removal",
    "Role",
    "RoutingInputs",
    "Tenant",
    "User",
    "open_store",
    "sip_ha1",
]


class ProvisioningStore(
    QueuesSection,  # before AttendantsSection, which it builds on
    UserAdminSection,  # before AttendantsSection, which it builds on
    AttendantsSection,  # before RoutingSection, which it builds on
    RoutingSection,
    PinLocksSection,  # before VoicemailSection, which it builds on
    VoicemailSection,
    ReportsSection,
    # New sections here, one line each.
    RecordingPolicySection,
    AccessLogSection,
    RecordingRetentionSection,
    DevicesSection,
    ContactsSection,
    AccountsSection,
):
    """Owns the provisioning SQLite file; open one per process."""


def open_store(path: Path) -> ProvisioningStore:
    return ProvisioningStore(path)
