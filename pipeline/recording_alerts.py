"""The "recordings missing" alert: calls the policy said to record went on unrecorded.

When rtpengine is down at call time the call still connects and its row says
``recording_outcome = 'missing'`` (Kamailio's CDR). So does the row of a leg the media
server bridged (attendant transfer, queue agent) that its target's policy said to record:
it is alerted as a leg of its call, naming whom it rang. What is missing is what the
Recordings page's Missing list shows (``pipeline/sql/missing_recording_alerts.sql`` reads
that list's query). The worker, after ingesting such calls, emails the tenant's managers
(enabled users with the role ``manager`` and an address) a list of them, through the
voicemail email's server and sender (:func:`pipeline.notify.send_email`, settings
``smtp_*``). At most one email per tenant per ``recording_alert_minutes``: calls found
meanwhile wait for the next one.

State, per tenant, in one marker ``<data_dir>/alerts/recordings_missing/<tenant>.json``
(written whole, temp + rename):

- ``seen_acc_id``: the accounting row of the last call (or leg) taken in. They come
  from the warehouse by ``acc_id`` above it (the lake's own commit order), so each is
  taken in once however often the worker restarts. Until its first such call, a tenant
  looks back :data:`FIRST_LOOK_SECONDS` only, never at years of history.
- ``waiting``: calls taken in and not yet in an email; ``outbox``: the email being
  sent (its id, its calls, attempts, when to try again); ``last_sent_at``.

One pass: take in new calls (marker written), open the outbox when the window allows
(marker written), send it, then clear it (marker written). A kill before the send
leaves the outbox, sent at the next pass; a kill between the server's acceptance and
the last write sends it once more with the same ``Message-ID`` (mail clients fold
it), as voicemail email does: a lost alert is worse than a duplicate. A send that
fails is tried again after ``smtp_retry_seconds``, doubling, ``smtp_max_attempts``
times, then dropped with an error in the log. No SMTP server, or a tenant without a
manager's address: said once in the log (until an alert goes out again), and the
calls are dropped from the outbox, not retried forever; ``switchboard recordings
list --missing`` still lists them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.fetch import fetch_rows
from pipeline.files import write_json_atomic
from pipeline.notify import SmtpFactory, send_email
from pipeline.queries import sql_file
from pipeline.recording_query import RecordingFilter
from pipeline.warehouse import connect
from switchboard.identifiers import EMAIL_RE
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

log = logging.getLogger(__name__)

# A tenant's first look reaches back this far (a day): not the whole history.
FIRST_LOOK_SECONDS = 86_400.0
# Calls listed in one email at most (the rest: counted).
MAX_LISTED = 50


@dataclass
class AlertState:
    """One tenant's marker (module docstring)."""

    seen_acc_id: int | None = None
    waiting: list[dict[str, Any]] | None = None
    outbox: dict[str, Any] | None = None
    last_sent_at: float | None = None
    unsent_logged: bool = False

    @classmethod
    def load(cls, path: Path) -> AlertState:
        if not path.exists():
            return cls(waiting=[])
        data = json.loads(path.read_text())
        return cls(**{**data, "waiting": data.get("waiting") or []})

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.__dict__)


def marker_dir(settings: Settings) -> Path:
    return settings.data_dir / "alerts" / "recordings_missing"


def marker_path(settings: Settings, tenant: str) -> Path:
    return marker_dir(settings) / f"{tenant}.json"


def missing_since(settings: Settings, tenant: str, state: AlertState, now: float) -> list[dict]:
    """The tenant's missing recordings (calls' and legs') the marker has not taken in yet."""
    since = 0.0 if state.seen_acc_id is not None else now - FIRST_LOOK_SECONDS
    sql = sql_file("missing_recording_alerts").format(missing_list=sql_file("recording_list"))
    # the Missing list unfiltered and unlimited, after the marker's cursor
    params = RecordingFilter().params() | {
        "since": datetime.fromtimestamp(since, UTC),
        "recording_id": None,
        "missing": True,
        "limit": None,
        "offset": 0,
        "after_acc_id": state.seen_acc_id or 0,
    }
    conn = connect(settings, tenant)
    try:
        rows = fetch_rows(conn, sql, params)
    finally:
        conn.close()
    return [
        {
            "call_id": r["call_id"],
            "leg_call_id": r["captured_call_id"],  # None: the call's own recording
            "acc_id": int(r["acc_id"]),
            "caller": r["caller"],
            "callee": r["callee"],
            "started_at": r["started_at"].timestamp(),
        }
        for r in rows
    ]


def build_alert_email(
    *, tenant: str, calls: list[dict[str, Any]], timezone: str, to: list[str], sender: str,
    alert_id: str,
) -> EmailMessage:  # fmt: skip
    """The email listing ``calls`` (pure: tests read it directly)."""
    zone = ZoneInfo(timezone)
    lines = [
        f"{len(calls)} call(s) of {tenant} that the recording policy said to record"
        " went on unrecorded: the recording service (rtpengine) failed at call time.",
        "The calls themselves connected normally.",
        "",
    ]
    for call in calls[:MAX_LISTED]:
        when = datetime.fromtimestamp(call["started_at"], UTC).astimezone(zone)
        # a bridged leg: callee is whom it rang; the call it belongs to named after it
        of = f"leg {call['leg_call_id']} of call" if call.get("leg_call_id") else "call"
        lines.append(
            f"  {when.strftime('%Y-%m-%d %H:%M %Z')}  {call['caller'] or '?'} -> "
            f"{call['callee'] or '?'}  ({of} {call['call_id']})"
        )
    if len(calls) > MAX_LISTED:
        lines.append(f"  ... and {len(calls) - MAX_LISTED} more")
    lines += [
        "",
        "Check that rtpengine is running. The full list: the Recordings page"
        " ('missing'), or `switchboard recordings list --missing`.",
    ]
    email = EmailMessage()
    email["Subject"] = f"[Switchboard] {len(calls)} call recording(s) missing at {tenant}"
    email["From"] = sender
    email["To"] = ", ".join(to)
    email["Date"] = formatdate(time.time(), localtime=False)
    email["Message-ID"] = f"<{alert_id}@switchboard.recording-alert>"
    email["X-Switchboard-Alert"] = "recordings-missing"
    email.set_content("\n".join(lines))
    return email


def manager_addresses(store: ProvisioningStore, tenant: str) -> list[str]:
    """Where a tenant's alerts go: its enabled managers' addresses we can send to."""
    return sorted(
        u.email
        for u in store.users(tenant)
        if u.role == "manager" and not u.disabled and u.email and EMAIL_RE.fullmatch(u.email)
    )


def _alert_id(tenant: str, calls: list[dict[str, Any]]) -> str:
    key = f"{tenant}:{calls[0]['acc_id']}:{calls[-1]['acc_id']}:{len(calls)}"
    return "rec-missing-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def alert_tenant(
    settings: Settings,
    store: ProvisioningStore,
    tenant: str,
    *,
    now: float,
    smtp_factory: SmtpFactory | None = None,
) -> bool:
    """One pass for one tenant (module docstring); whether an email went out."""
    path = marker_path(settings, tenant)
    state = AlertState.load(path)
    waiting = state.waiting if state.waiting is not None else []
    fresh = missing_since(settings, tenant, state, now)
    if fresh:
        state.seen_acc_id = max(c["acc_id"] for c in fresh)
        state.waiting = waiting + fresh
        state.save(path)  # taken in: never again, whatever happens next
    window = settings.recording_alert_minutes * 60
    if (
        state.outbox is None
        and state.waiting
        and (state.last_sent_at is None or now - state.last_sent_at >= window)
    ):
        calls = state.waiting
        state.outbox = {"id": _alert_id(tenant, calls), "calls": calls, "attempts": 0}
        state.waiting = []
        state.save(path)
    outbox = state.outbox
    if outbox is None or now < outbox.get("retry_at", 0.0):
        return False
    to = manager_addresses(store, tenant) if settings.smtp_host else []
    if not to:
        if not state.unsent_logged:
            why = "no SMTP server is set" if not settings.smtp_host else "no manager has an address"
            log.warning(
                "recordings missing at %s: %d call(s) not recorded, and %s to tell anyone",
                tenant, len(outbox["calls"]), why,
            )  # fmt: skip
        state.unsent_logged, state.outbox = True, None
        state.save(path)
        return False
    email = build_alert_email(
        tenant=tenant,
        calls=outbox["calls"],
        timezone=store.tenant(tenant).timezone,
        to=to,
        sender=settings.smtp_from,
        alert_id=outbox["id"],
    )
    try:
        send_email(settings, email, smtp_factory)
    except (OSError, ValueError) as exc:
        outbox["attempts"] += 1
        if outbox["attempts"] >= settings.smtp_max_attempts:
            log.error("recordings missing at %s: alert email dropped after %d tries: %s",
                      tenant, outbox["attempts"], exc)  # fmt: skip
            state.outbox = None
        else:
            delay = settings.smtp_retry_seconds * 2 ** (outbox["attempts"] - 1)
            outbox["retry_at"] = now + delay
            log.warning("recordings missing at %s: alert email failed (%s); again in %.0f s",
                        tenant, exc, delay)  # fmt: skip
        state.save(path)
        return False
    state.outbox, state.last_sent_at, state.unsent_logged = None, now, False
    state.save(path)
    log.info("recordings missing at %s: %d call(s) emailed to %s",
             tenant, len(outbox["calls"]), ", ".join(to))  # fmt: skip
    return True


def alert_missing_recordings(
    settings: Settings,
    store: ProvisioningStore,
    *,
    now: float | None = None,
    smtp_factory: SmtpFactory | None = None,
) -> int:
    """A pass over every tenant; emails sent. One tenant's failure never stops the others."""
    now = time.time() if now is None else now
    sent = 0
    for tenant in (t.domain for t in store.tenants()):
        try:
            sent += alert_tenant(settings, store, tenant, now=now, smtp_factory=smtp_factory)
        except Exception:
            log.exception("recordings-missing alert of %s failed; next pass tries again", tenant)
    return sent


class MissingRecordingAlerts:
    """The worker's hook: a pass at start-up (what a restart left), after every ingest
    that found such calls, and every :data:`CHECK_SECONDS` while calls wait for their
    window or a retry (the markers say so: no warehouse query)."""

    CHECK_SECONDS = 30.0

    def __init__(self, settings: Settings, store: ProvisioningStore) -> None:
        self.settings, self.store = settings, store
        self._next_check = 0.0
        self._first = True  # a pass at start-up, whatever the markers say

    def run(self, missing_now: int) -> None:
        if not missing_now and time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.CHECK_SECONDS
        if missing_now or alerts_waiting(self.settings) or self._first:
            self._first = False
            alert_missing_recordings(self.settings, self.store)


def alerts_waiting(settings: Settings) -> bool:
    """Whether any tenant has calls waiting for an alert (cheap: the markers only)."""
    folder = marker_dir(settings)
    if not folder.is_dir():
        return False
    for path in folder.glob("*.json"):
        state = AlertState.load(path)
        if state.waiting or state.outbox:
            return True
    return False
