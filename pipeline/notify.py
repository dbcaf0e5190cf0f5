"""Voicemail to email: one message per voicemail, through the configured SMTP server.

Each message's email state lives in the provisioning store (``pending`` →
``sent`` | ``skipped`` | ``failed``). The state is written after the server
accepted the mail, so a crash in between sends it again (at least once, not
at most once: a lost voicemail is worse than a duplicate); the ``Message-ID``
is derived from the voicemail id so mail clients fold such a duplicate away.

The email waits for the transcript (up to ``TRANSCRIPT_WAIT_SECONDS`` after
the message ended) so that it can carry it; without one it says so.

One bad message never holds up the others: whatever goes wrong with it — an
address we cannot send to (non-ASCII, malformed), a server that refuses the
recipient or the size (552), any other SMTP error or a dropped connection —
marks that message ``failed`` with its attempt count and the server's word,
and it is tried again after ``smtp_retry_seconds``, doubling each time, until
``smtp_max_attempts``; then it stays ``failed``. The pass goes on with the
next message (on a fresh connection when the last one broke). Only a server
that cannot be reached at all ends the pass early, blaming no message.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.transcription_decoding import LOW_CONFIDENCE_NOTE, is_low_confidence, language_name
from switchboard.identifiers import EMAIL_RE, header_text
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.voicemail import MailboxSettings, VoicemailMessage, caller_label

log = logging.getLogger(__name__)

TRANSCRIPT_WAIT_SECONDS = 300
# Older messages are not emailed any more (marked skipped): no flood of day-old mail.
STALE_SECONDS = 86_400
SMTP_TIMEOUT = 15.0
SmtpFactory = Callable[[str, int], smtplib.SMTP]


def send_email(
    settings: Settings, email: EmailMessage, smtp_factory: SmtpFactory | None = None
) -> None:
    """Hand one email to the configured SMTP server (the voicemail email's server and
    sender); raises ``OSError`` (smtplib's errors are OSErrors) or ``ValueError``.

    For the other notices the worker sends (:mod:`pipeline.recording_alerts`): one
    connection per email, as they are rare.
    """
    factory = smtp_factory or (lambda host, port: smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT))
    smtp = factory(settings.smtp_host, settings.smtp_port)
    try:
        smtp.send_message(email)
    finally:
        _close(smtp)


def _duration(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def build_voicemail_email(
    *,
    msg: VoicemailMessage,
    box: MailboxSettings,
    facts: dict[str, Any],
    timezone: str,
    names: dict[str, str],
    sender: str,
    audio: bytes | None,
) -> EmailMessage:
    """The email for one message (pure: no I/O, so tests can read it directly)."""
    caller = caller_label(
        facts.get("caller"), facts.get("caller_name"), names, facts.get("from_carrier")
    )
    started = datetime.fromtimestamp(msg.started_at, tz=UTC).astimezone(ZoneInfo(timezone))
    when = started.strftime("%a %d %b %Y %H:%M %Z")
    transcript = facts.get("transcript")
    lines = [
        f"You have a new voicemail in mailbox {msg.mailbox}.",
        "",
        f"From:     {caller}",
        f"Received: {when}",
        f"Length:   {_duration(msg.duration)}",
    ]
    if msg.forwarded_by:
        lines.append(f"Forwarded by extension {msg.forwarded_by}")
    if facts.get("cut_off"):
        lines.append("The recording was cut off by a server failure; what was recorded is kept.")
    lines += [
        "",
        "Transcript:",
        transcript if transcript else "(no transcript available)",
    ]
    if transcript and facts.get("language") and facts["language"] != "en":
        lines.append(f"(spoken in {language_name(facts['language'])})")
    if transcript and is_low_confidence(facts.get("avg_logprob"), facts.get("no_speech_prob")):
        lines.append(f"({LOW_CONFIDENCE_NOTE.rstrip('.').lower()}: listen to the recording)")
    lines += [
        "",
        "Listen to it in the portal under Voicemail"
        + (", or in the attached WAV file." if audio is not None else "."),
    ]
    email = EmailMessage()
    email["Subject"] = header_text(f"New voicemail from {caller} ({_duration(msg.duration)})")
    email["From"] = sender
    email["To"] = box.email_address
    email["Date"] = formatdate(time.time(), localtime=False)
    email["Message-ID"] = make_msgid(idstring=msg.message_id, domain="switchboard.voicemail")
    email["X-Switchboard-Voicemail"] = msg.message_id
    email.set_content("\n".join(lines))
    if audio is not None:
        email.add_attachment(
            audio,
            maintype="audio",
            subtype="wav",
            filename=f"voicemail-{started.strftime('%Y%m%d-%H%M')}-{msg.message_id[-8:]}.wav",
        )
    return email


def _ready(msg: VoicemailMessage, transcription_on: bool, now: float) -> bool:
    if not transcription_on or msg.transcribed_at is not None:
        return True
    return now - (msg.started_at + msg.duration) > TRANSCRIPT_WAIT_SECONDS


# After these the connection is still good (smtplib reset the transaction): keep using it.
_MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPResponseException,
    smtplib.SMTPNotSupportedError,
)


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _failed(
    settings: Settings, store: ProvisioningStore, msg: VoicemailMessage, why: str, now: float
) -> None:
    retry_at = store.record_email_failure(
        msg.message_id,
        why,
        max_attempts=settings.smtp_max_attempts,
        retry_seconds=settings.smtp_retry_seconds,
        now=now,
    )
    later = f"trying again in {retry_at - now:.0f} s" if retry_at is not None else "giving up"
    log.warning("voicemail %s: email failed (%s); %s", msg.message_id, why, later)


def send_pending_emails(
    settings: Settings,
    store: ProvisioningStore,
    *,
    transcription_on: bool,
    limit: int = 20,
    now: float | None = None,
    smtp_factory: SmtpFactory | None = None,
) -> int:
    """Email every voicemail that is due; how many were sent. No SMTP host: nothing."""
    if not settings.smtp_host:
        return 0
    from pipeline.voicemail_query import message_facts  # lazy: loads DuckDB
    from pipeline.warehouse import connect

    now = time.time() if now is None else now
    by_tenant: dict[str, list[VoicemailMessage]] = defaultdict(list)
    for msg in store.messages_to_email(limit, now):
        by_tenant[msg.tenant].append(msg)
    factory = smtp_factory or (lambda host, port: smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT))
    sent = 0
    smtp: smtplib.SMTP | None = None
    try:
        for tenant, messages in by_tenant.items():
            names = {u.extension: u.name for u in store.users(tenant)}
            conn = connect(settings, tenant)
            try:
                facts = message_facts(conn, sorted({m.source_id for m in messages}))
            finally:
                conn.close()
            for msg in messages:
                try:
                    box = store.mailbox_settings(tenant, msg.mailbox)
                    owner = store.user(tenant, msg.mailbox)
                except ProvisioningError:  # the mailbox's user was removed
                    store.set_email_state(msg.message_id, "skipped")
                    continue
                stale = now - msg.started_at > STALE_SECONDS  # e.g. SMTP configured late
                if not box.email_enabled or not box.email_address or stale:
                    store.set_email_state(msg.message_id, "skipped")
                    continue
                if not _ready(msg, transcription_on, now):
                    continue
                if not EMAIL_RE.fullmatch(box.email_address):
                    _failed(settings, store, msg, "not an address we can send to", now)
                    continue
                audio = None
                if box.email_attach_audio:
                    try:
                        audio = (settings.data_dir / msg.audio_path).read_bytes()
                    except OSError:
                        log.warning("voicemail %s: audio missing, sent without it", msg.message_id)
                try:
                    email = build_voicemail_email(
                        msg=msg,
                        box=box,
                        facts=facts.get(msg.source_id, {}),
                        timezone=owner.timezone,
                        names=names,
                        sender=settings.smtp_from,
                        audio=audio,
                    )
                except (ValueError, MessageError) as exc:
                    _failed(settings, store, msg, f"cannot build the email: {exc}", now)
                    continue
                if smtp is None:
                    try:
                        smtp = factory(settings.smtp_host, settings.smtp_port)
                    except OSError as exc:  # smtplib's errors are OSErrors too
                        log.warning(
                            "voicemail email: %s:%d unreachable (%s); next pass tries again",
                            settings.smtp_host, settings.smtp_port, exc,
                        )  # fmt: skip
                        return sent
                try:
                    smtp.send_message(email)
                except (OSError, ValueError) as exc:
                    _failed(settings, store, msg, str(exc) or type(exc).__name__, now)
                    # 421 and the like close the connection even as a per-recipient refusal
                    if not isinstance(exc, _MESSAGE_ERRORS) or smtp.sock is None:
                        _close(smtp)  # broken or in an unknown state: the next one reconnects
                        smtp = None
                    continue
                store.set_email_state(msg.message_id, "sent")
                sent += 1
    finally:
        if smtp is not None:
            _close(smtp)
    return sent
