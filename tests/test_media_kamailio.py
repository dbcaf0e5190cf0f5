"""A real caller through Kamailio: 102 does not take calls, the media server takes the message.

101 calls 102 with SIPp (digest auth, RTP from a pcap of an espeak-ng
sentence); 102's active rule (do not disturb, then voicemail) makes Kamailio
relay the call, record-routed, to ``vm-acme.example-102`` on the media
server, which plays the default spoken greeting (102 has none) and records.
The caller's BYE passes through Kamailio (Record-Route in our 200 OK), so the
accounting row closes with the voicemail as the answering party.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_user
from media import prompts
from media.mailbox import StoreMailboxes
from switchboard.rules import AnsweringRule
from tests.fixtures.core import Directory
from tests.fixtures.media import (
    PIN,
    SENTENCE,
    SHORT_SENTENCE,
    Caller,
    MediaServerThread,
    RtpPlan,
    g711,
    speech_wav,
)
from tests.fixtures.media import wav_pcm as read_pcm
from tests.fixtures.sip import account, cdr_rows, lake_calls

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

NOW = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)


@pytest.fixture
def media_behind_kamailio(
    kamailio: KamailioProcess, directory: Directory
) -> Iterator[MediaServerThread]:
    s = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=5.0)
    mailboxes = StoreMailboxes(directory.store, s.data_dir, s.spool_dir)
    server = MediaServerThread(s, mailboxes=mailboxes).start()
    try:
        yield server
    finally:
        server.stop()


def test_message_left_through_kamailio(
    kamailio: KamailioProcess,
    directory: Directory,
    rules_clock: RulesClock,
    media_behind_kamailio: MediaServerThread,
    media_audio_dir: Path,
    tmp_path: Path,
) -> None:
    s = kamailio.settings
    bob = directory.users["102@acme.example"]
    directory.store.save_rule(bob, AnsweringRule("Away", 1, None, dnd=True))
    rules_clock.pin(NOW)
    push_user(s, directory.store, bob, now=NOW)

    source = read_pcm(speech_wav(media_audio_dir, SENTENCE))
    greeting = prompts.prompt_pcm(s.data_dir, "greeting_unavailable")
    wait_ms = int(len(greeting) / 16 + 400 + 400)  # default greeting + beep + margin
    caller = Caller(
        s, "102", tmp_path, audio=RtpPlan(8, g711(source.tobytes(), 8)), payload_type=8,
        wait_ms=wait_ms, auth=account("101@acme.example", name="Front Desk"),
    )  # fmt: skip
    result = caller.run()
    assert result.returncode == 0, result.errors
    assert any(line.startswith("bye_ok") for line in result.log_lines)

    [meta] = media_behind_kamailio.wait_messages(1)
    assert (meta["tenant"], meta["mailbox"], meta["caller"]) == ("acme.example", "102", "101")
    assert (meta["end_reason"], meta["discarded"], meta["codec"]) == ("hangup", False, "PCMA")
    assert abs(meta["duration"] - len(source) / 8000) <= 0.150

    [row] = cdr_rows(s)
    assert row["call_id"] == meta["call_id"]
    assert (row["answered_by"], row["disposition_hint"]) == ("vm-acme.example-102", "voicemail")
    assert row["end_at"] is not None and row["end_at"] >= row["answer_at"]
    # talk time ~ greeting + message: the BYE went through Kamailio, not around it
    assert row["end_at"] - row["answer_at"] == pytest.approx(
        wait_ms / 1000 + len(source) / 8000 + 0.3, abs=1.0
    )


def test_star_97_through_kamailio_opens_the_own_mailbox_and_records_a_greeting(
    kamailio: KamailioProcess,
    directory: Directory,
    media_behind_kamailio: MediaServerThread,
    media_audio_dir: Path,
    tmp_path: Path,
) -> None:
    """102 dials *97 (digest auth as 102): PIN, menu "2", speaks, "#": a new active greeting.

    The greeting becoming 102's active one proves Kamailio relayed the call to
    ``vmaccess-acme.example`` as 102 and the PIN prompt and the menu were reached.
    """
    s = kamailio.settings
    directory.store.set_voicemail_pin("acme.example", "102", PIN)
    greeting = read_pcm(speech_wav(media_audio_dir, SHORT_SENTENCE))
    prompt_ms = len(prompts.prompt_pcm(s.data_dir, "record_greeting")) // 16 + 400  # + beep
    access = Caller(
        s, "*97", tmp_path, caller="102", name="Bob Builder", wait_ms=500, timeout=40,
        auth=account("102@acme.example", name="Bob Builder"),
        audio=RtpPlan(0, g711(bytes(3200), 0), digits=[*PIN, "#", "2"]),
        # a new SSRC: a second pcap restarts sequence numbers and timestamps
        then=[(prompt_ms + 800, RtpPlan(0, g711(greeting.tobytes(), 0), ["#"], ssrc=0x5EED0097))],
        after_ms=2000,
    )  # fmt: skip
    result = access.run()
    assert result.returncode == 0, result.errors

    box = directory.store.mailbox_settings("acme.example", "102")
    assert box.greeting == "custom" and box.active_greeting is not None
    recorded = read_pcm(Path(box.active_greeting))
    assert len(greeting) / 8000 - 0.2 <= len(recorded) / 8000 <= len(greeting) / 8000 + 0.6

    [row] = cdr_rows(s)
    assert (row["caller"], row["callee"], row["direction"]) == ("102", "*97", "internal")
    assert (row["answered_by"], row["disposition_hint"]) == ("vmaccess-acme.example", "answered")
    [call] = lake_calls(s, "acme.example")
    assert call["disposition"] == "answered"
