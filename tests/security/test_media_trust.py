"""The media server believes Kamailio only, and Kamailio only what digest auth proved.

Straight to the media server: a request from any address but Kamailio's gets
no answer at all; from Kamailio's address without the asserted identity (or
with a wrong secret) it gets 403. Through Kamailio: a phone's own
``X-SB-Asserted`` is removed, so 101 dialling ``*97`` opens 101's mailbox even
when it claims 102; a From that is not the authenticated user is refused by
Kamailio. Voicemail targets read one way (``vm-<tenant>-<ext>``, tenants with
``-``) and a target that does not exist is refused by Kamailio.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import media.server
from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_all, push_user
from media import prompts
from media.mailbox import StoreMailboxes
from switchboard.routing import compile_decision, parse_voicemail_target, voicemail_target
from switchboard.rules import ActiveRule, AnsweringRule, Destination
from switchboard.settings import Settings
from switchboard.sip_trust import ASSERTED_HEADER, asserted_value, media_secret
from tests.fixtures.core import Directory
from tests.fixtures.media import (
    SHORT_SENTENCE,
    Caller,
    MediaServerThread,
    RtpPlan,
    g711,
    speech_wav,
    wav_pcm,
)
from tests.fixtures.sip import account, carrier_call, cdr_rows
from tests.security.raw_sip import SDP, RawSip

NOW = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)


# --- the target encoding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "ext"),
    [("acme.example", "102"), ("acme-corp.example", "102"), ("a-b.c-d.example", "12345678")],
)
def test_voicemail_targets_read_back_the_way_they_were_written(tenant: str, ext: str) -> None:
    assert parse_voicemail_target(voicemail_target(tenant, ext)) == (tenant, ext)


@pytest.mark.parametrize(
    "user",
    ["vm-102", "vm-acme.example-", "vm-acme.example-10a", "vm-../../etc-102", "vm-ACME.example-1",
     "vmaccess-acme.example", "vm-acme.example-+15550100", "q-acme.example-102"],
)  # fmt: skip
def test_what_is_no_voicemail_target_is_not_read_as_one(user: str) -> None:
    assert parse_voicemail_target(user) is None


def test_no_target_is_written_for_what_is_no_mailbox() -> None:
    with pytest.raises(ValueError):
        voicemail_target("acme.example", "+15550100")


# --- straight to the media server ---------------------------------------------------------------


def _invite(sender: RawSip, settings: Settings, ruri_user: str, extra: str = "") -> bytes:
    ruri = f"sip:{ruri_user}@{settings.media_host}:{settings.media_port}"
    data, _ = sender.request("INVITE", ruri, from_uri="sip:102@acme.example", extra=extra, body=SDP)
    return data


def test_the_media_server_answers_nobody_but_kamailio(
    media_server: MediaServerThread, settings: Settings
) -> None:
    media = (settings.media_host, settings.media_port)
    assert media_server.server is not None
    good = f"{ASSERTED_HEADER}: {asserted_value('102@acme.example', media_secret(settings))}"
    # any other address, even with the right From and the right secret: silence
    with RawSip(media) as stranger:
        stranger.send(_invite(stranger, settings, "*97", good))
        stranger.send(_invite(stranger, settings, "vm-acme.example-102", good))
        assert stranger.replies(0.8) == []
    assert media_server.server.dropped == 2
    # Kamailio's address (free here: no Kamailio runs) without the assertion, or a wrong key
    with RawSip(media, host=settings.sip_host, port=settings.sip_port) as spoofer:
        for extra in ("", f"{ASSERTED_HEADER}: 102@acme.example;key=guess"):
            spoofer.send(_invite(spoofer, settings, "*97", extra))
            assert spoofer.final(2.0) == 403
    assert media_server.server.legs == {} and media_server.wait_messages(0, 0.1) == []


# --- through Kamailio ---------------------------------------------------------------------------


@pytest.fixture
def opened_mailboxes(
    kamailio: KamailioProcess, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[tuple[str, str]]]:
    """A media server behind Kamailio whose phone menu only notes which mailbox it opened."""
    opened: list[tuple[str, str]] = []

    async def note_mailbox(leg: Any, mailboxes: Any, tenant: str, mailbox: str, *_: Any) -> None:
        opened.append((tenant, mailbox))

    monkeypatch.setattr(media.server, "mailbox_menu", note_mailbox)
    s = kamailio.settings
    server = MediaServerThread(
        s, mailboxes=StoreMailboxes(directory.store, s.data_dir, s.spool_dir)
    )
    server.start()
    try:
        yield opened
    finally:
        server.stop()


def test_a_claimed_identity_never_opens_another_mailbox(
    kamailio: KamailioProcess, opened_mailboxes: list[tuple[str, str]]
) -> None:
    s = kamailio.settings
    forged = f"{ASSERTED_HEADER}: {asserted_value('102@acme.example', media_secret(s))}"
    with RawSip((s.sip_host, s.sip_port)) as alice:
        # 101 authenticates, dials *97 and claims to be 102 with the real secret: stripped
        code, _ = alice.invite("101", "acme.example", Directory.SIP_PASSWORD, "*97", extra=forged)
        assert code == 200
        # a From that is not the credentials' user: Kamailio refuses it
        code, _ = alice.invite(
            "101", "acme.example", Directory.SIP_PASSWORD, "*97", from_user="102"
        )
        assert code == 403
        alice.replies(1.0)
    assert opened_mailboxes == [("acme.example", "101")]


def test_a_tenant_with_dashes_gets_its_message_and_a_missing_box_is_refused(
    kamailio: KamailioProcess,
    directory: Directory,
    rules_clock: RulesClock,
    media_server_behind: MediaServerThread,
    media_audio_dir: Path,
    tmp_path: Path,
) -> None:
    s, store = kamailio.settings, directory.store
    store.add_tenant("acme-corp.example", "Europe/Paris", name="Acme Corp (dash)")
    users = {
        ext: store.add_user(
            tenant="acme-corp.example", extension=ext, name=f"User {ext}",
            email=f"{ext}@acme-corp.example", password=Directory.PASSWORD,
            sip_password=Directory.SIP_PASSWORD, role="user",
        )
        for ext in ("101", "102")
    }  # fmt: skip
    rules_clock.pin(NOW)
    for user in users.values():
        push_user(s, store, user, now=NOW)
    # 102 has no phone registered: its default decision sends the call to its mailbox
    source = wav_pcm(speech_wav(media_audio_dir, SHORT_SENTENCE))
    greeting = prompts.prompt_pcm(s.data_dir, "greeting_unavailable")
    result = Caller(
        s, "102", tmp_path, audio=RtpPlan(0, g711(source.tobytes(), 0)),
        wait_ms=int(len(greeting) / 16 + 800), caller="101", domain="acme-corp.example",
        auth=account("101@acme-corp.example"),
    ).run()  # fmt: skip
    assert result.returncode == 0, result.errors
    [meta] = media_server_behind.wait_messages(1, timeout=15)
    assert (meta["tenant"], meta["mailbox"]) == ("acme-corp.example", "102")
    [row] = cdr_rows(s)
    assert row["answered_by"] == "vm-acme-corp.example-102"

    # a decision naming a mailbox that does not exist (pushed by hand: the store refuses it)
    ghost = AnsweringRule("Ghost box", 1, forward_always=Destination("voicemail", "555"))
    decision = compile_decision(
        users["101"], ActiveRule(ghost, None, None), default_ring_seconds=s.ring_timeout
    )
    kamailio.rpc.call("htable.sets", "rules", "acme-corp.example:101", decision)
    with RawSip((s.sip_host, s.sip_port)) as caller:
        code, _ = caller.invite("102", "acme-corp.example", Directory.SIP_PASSWORD, "101")
    assert code == 404
    assert "voicemail target '555' of acme-corp.example does not exist" in (
        kamailio.log_path.read_text(errors="replace")
    )


@pytest.fixture
def media_server_behind(
    kamailio: KamailioProcess, directory: Directory
) -> Iterator[MediaServerThread]:
    s = kamailio.settings
    server = MediaServerThread(
        s, mailboxes=StoreMailboxes(directory.store, s.data_dir, s.spool_dir)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_carrier_reaches_a_mailbox_as_trunk_but_never_a_mailbox_menu(
    kamailio: KamailioProcess,
    directory: Directory,
    rules_clock: RulesClock,
    opened_mailboxes: list[tuple[str, str]],
) -> None:
    """A DID forwarded to 100's mailbox: Kamailio asserts ``trunk``, the media server answers."""
    s, store = kamailio.settings, directory.store
    did = store.add_did("acme.example", "+15550001000", "Main line")
    to_mailbox = Destination("voicemail", "100")
    store.save_did_rule(did, AnsweringRule("Closed", 1, None, forward_always=to_mailbox))
    rules_clock.pin(NOW)
    push_all(s, store, now=NOW)
    result = carrier_call(s, "+15551234567", "+15550001000")
    assert list(result.finals.values()) == [200], result.errors
    [row] = cdr_rows(s)
    assert (row["direction"], row["answered_by"]) == ("inbound", "vm-acme.example-100")
    assert opened_mailboxes == []
