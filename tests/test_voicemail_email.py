"""Voicemail to email when some messages cannot be sent: each fails alone, is retried, given up.

A real SMTP server (aiosmtpd) refuses one recipient with 552, closes the
connection on another with 421, and accepts everyone else; one mailbox has
an address no SMTP server takes from us (non-ASCII, written before the store
checked addresses).
"""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest

from pipeline.notify import send_pending_emails
from pipeline.voicemail_ingest import ingest_voicemail
from switchboard.settings import Settings
from switchboard.store import ProvisioningError
from tests.fixtures.core import Directory, free_port, make_settings
from tests.fixtures.voicemail import Speech, write_spool_item

TOO_BIG = "101@acme.example"  # the server answers 552 to this recipient
HANGS_UP = "103@acme.example"  # ... and 421 (closing the connection) to this one


class PickyServer:
    """Accepts mail, except for the recipients above."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refused: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address == TOO_BIG:
            self.refused.append(address)
            return "552 5.3.4 Message size exceeds fixed maximum message size"
        if address == HANGS_UP:
            self.refused.append(address)
            return "421 4.3.2 Service shutting down, closing channel"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def picky_smtp() -> Iterator[tuple[int, PickyServer]]:
    from aiosmtpd.controller import Controller

    handler = PickyServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, handler
    controller.stop()


def _mail_settings(directory: Directory, port: int) -> Settings:
    return make_settings(
        directory.store.path.parent,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_max_attempts=3,
        smtp_retry_seconds=60.0,
    )


def test_a_refused_message_fails_alone_is_retried_with_backoff_then_given_up(
    directory: Directory, speech: Speech, picky_smtp: tuple[int, PickyServer]
) -> None:
    port, server = picky_smtp
    settings = _mail_settings(directory, port)
    store = directory.store
    # Written before addresses were checked: the store refuses it now (see the test below).
    store._db.execute("update user set email = 'jürgen@acme.example' where extension = '100'")
    wav = speech("Please call me back about the invoice.")
    ids = {
        (tenant, ext): write_spool_item(settings, tenant, ext, wav)
        for tenant, ext in [
            ("acme.example", "100"),  # non-ASCII address
            ("acme.example", "101"),  # 552
            ("acme.example", "102"),  # accepted
            ("acme.example", "103"),  # 421: the connection closes
            ("globex.example", "101"),  # accepted, after all the failures above
        ]
    }
    ingest_voicemail(settings, store)

    def state(tenant: str, ext: str) -> tuple[str, int]:
        msg = store.voicemail_message(tenant, ext, ids[tenant, ext])
        return msg.email_state, msg.email_attempts

    start = 1_000.0 + max(m.started_at for m in store.messages_to_email(10))
    assert send_pending_emails(settings, store, transcription_on=False, now=start) == 2
    assert sorted(m["To"] for m in server.messages) == ["101@globex.example", "102@acme.example"]
    failed = [("acme.example", e) for e in ("100", "101", "103")]
    assert [state(*box) for box in failed] == [("failed", 1)] * 3
    assert state("acme.example", "102") == state("globex.example", "101") == ("sent", 0)

    # Not due again before the backoff; then 60 s, then 120 s; the third failure gives up.
    assert send_pending_emails(settings, store, transcription_on=False, now=start + 59) == 0
    assert [state(*box) for box in failed] == [("failed", 1)] * 3
    assert send_pending_emails(settings, store, transcription_on=False, now=start + 61) == 0
    assert [state(*box) for box in failed] == [("failed", 2)] * 3
    assert send_pending_emails(settings, store, transcription_on=False, now=start + 61 + 119) == 0
    assert [state(*box) for box in failed] == [("failed", 2)] * 3
    assert send_pending_emails(settings, store, transcription_on=False, now=start + 61 + 121) == 0
    assert [state(*box) for box in failed] == [("failed", 3)] * 3
    assert store.messages_to_email(10, now=start + 10**6) == []
    assert server.refused == [TOO_BIG, HANGS_UP] * 3
    assert len(server.messages) == 2  # the good ones were never sent twice


def test_a_mailbox_fixed_between_attempts_gets_its_message(
    directory: Directory, speech: Speech, picky_smtp: tuple[int, PickyServer]
) -> None:
    port, server = picky_smtp
    settings = _mail_settings(directory, port)
    store = directory.store
    mid = write_spool_item(settings, "acme.example", "101", speech("Call me back."))
    ingest_voicemail(settings, store)
    start = store.voicemail_message("acme.example", "101", mid).started_at + 1_000
    assert send_pending_emails(settings, store, transcription_on=False, now=start) == 0
    store.set_user_email("acme.example", "101", "desk@acme.example")
    assert send_pending_emails(settings, store, transcription_on=False, now=start + 61) == 1
    assert [m["To"] for m in server.messages] == ["desk@acme.example"]
    msg = store.voicemail_message("acme.example", "101", mid)
    assert (msg.email_state, msg.email_attempts) == ("sent", 1)


@pytest.mark.parametrize(
    "address",
    ["jürgen@acme.example", "desk", "desk@acme", "a b@acme.example", "x@acme.example\nBcc: y@z.io"],
)
def test_addresses_are_checked_when_a_user_is_added_or_edited(
    directory: Directory, address: str
) -> None:
    store = directory.store
    with pytest.raises(ProvisioningError, match="not an email address"):
        store.add_user(
            tenant="acme.example", extension="150", name="New", email=address,
            password="portal-pass-1", sip_password="sip-secret-1",
        )  # fmt: skip
    with pytest.raises(ProvisioningError, match="not an email address"):
        store.set_user_email("acme.example", "102", address)
    assert store.user("acme.example", "102").email == "102@acme.example"
    added = store.add_user(
        tenant="acme.example", extension="150", name="New", email=" O'Neil+vm@Mail.Example.COM ",
        password="portal-pass-1", sip_password="sip-secret-1",
    )  # fmt: skip
    assert added.email == "O'Neil+vm@Mail.Example.COM"


def test_unreachable_server_blames_no_message(directory: Directory, speech: Speech) -> None:
    settings = _mail_settings(directory, free_port())  # nothing listens there
    mid = write_spool_item(settings, "acme.example", "102", speech("Call me back."))
    ingest_voicemail(settings, directory.store)
    assert send_pending_emails(settings, directory.store, transcription_on=False) == 0
    msg = directory.store.voicemail_message("acme.example", "102", mid)
    assert (msg.email_state, msg.email_attempts) == ("pending", 0)
