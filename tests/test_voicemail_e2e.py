"""Issue 4 end to end: an unanswered call becomes a message 102 reads, hears and gets by email.

Every part is the real one: Kamailio routes 101's call (SIPp, digest auth,
RTP of an espeak-ng sentence) to 102's phone (a SIPp UAS that rings and never
answers); after 102's ring time the answering rule's fallback relays it to the
media server, which plays the default greeting and records. One pipeline
worker tick then ingests the accounting row and the spool item, transcribes
with the default bundled model and emails 102 through an aiosmtpd server on
loopback; the portal, on the same settings, lists the message in headless
Chromium with its transcript and playable audio.
"""

from __future__ import annotations

import dataclasses
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_user
from kamailio.traffic import SippUAS, scenario
from media import prompts
from media.mailbox import StoreMailboxes
from pipeline.ingest import ingest_once
from pipeline.worker import VoicemailSteps
from switchboard.rules import AnsweringRule
from tests.fixtures.core import Directory
from tests.fixtures.media import Caller, MediaServerThread, RtpPlan, g711, wav_pcm
from tests.fixtures.portal import log_in, start_portal, stop_portal
from tests.fixtures.sip import account, cdr_rows, lake_calls, register_at
from tests.fixtures.voicemail import INVOICE_KEYWORDS, INVOICE_SENTENCE, Speech

pytestmark = [
    pytest.mark.kamailio,
    pytest.mark.media,
    pytest.mark.whisper,
    pytest.mark.browser,
]

NOW = datetime(2026, 12, 22, 15, 0, tzinfo=UTC)
RING_SECONDS = 5  # the shortest ring an answering rule allows

# The listener presses play (the player fetches nothing before: preload="none"); resolves
# with the audio's duration once its metadata loaded (or fails on error).
AUDIO_DURATION_JS = """async (el) => {
    if (el.readyState < 1) {
        const loaded = new Promise((ok, fail) => {
            el.addEventListener('loadedmetadata', ok, {once: true});
            el.addEventListener('error', fail, {once: true});
        });
        el.muted = true;  // headless autoplay rules: a muted play needs no gesture
        el.play().catch(() => {});
        await loaded;
        el.pause();
    }
    return el.duration;
}"""


def test_unanswered_call_is_recorded_transcribed_emailed_and_shown_in_the_portal(
    kamailio: KamailioProcess,
    directory: Directory,
    rules_clock: RulesClock,
    smtp_server: Any,
    speech: Speech,
    page: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    controller, inbox = smtp_server
    s = dataclasses.replace(kamailio.settings, smtp_host="127.0.0.1", smtp_port=controller.port)
    bob = directory.users["102@acme.example"]
    directory.store.save_rule(bob, AnsweringRule("Desk", 1, None, ring_seconds=RING_SECONDS))
    rules_clock.pin(NOW)
    push_user(s, directory.store, bob, now=NOW)

    # -- 101 calls 102, who does not answer; the message is left through Kamailio --
    mailboxes = StoreMailboxes(directory.store, s.data_dir, s.spool_dir)
    media = MediaServerThread(s, mailboxes=mailboxes).start()
    try:
        source = wav_pcm(speech(INVOICE_SENTENCE))
        greeting = prompts.prompt_pcm(s.data_dir, "greeting_unavailable")
        with SippUAS(scenario("uas_ring_logged.xml")) as phone_102:
            assert register_at(s, "102@acme.example", phone_102).returncode == 0
            caller = Caller(
                s, "102", tmp_path, audio=RtpPlan(0, g711(source.tobytes(), 0)),
                wait_ms=len(greeting) // 16 + 400 + 400,  # default greeting + beep + margin
                auth=account("101@acme.example", name="Front Desk"), timeout=40,
            )  # fmt: skip
            result = caller.run()
            assert result.returncode == 0, result.errors
            assert any(line.startswith("cancelled") for line in phone_102.log_lines())
        [meta] = media.wait_messages(1)
    finally:
        media.stop()
    assert (meta["mailbox"], meta["caller"], meta["discarded"]) == ("102", "101", False)
    cdr_rows(s)  # the accounting row is committed before the tick reads it

    # -- one pipeline worker tick: calls, then voicemail ingest -> transcript -> email --
    ingest_once(s)
    steps = VoicemailSteps(s)
    try:
        steps.run()
    finally:
        steps.close()

    [msg] = directory.store.voicemail_messages("acme.example", "102")
    assert msg.message_id == meta["message_id"]
    with wave.open(str(s.data_dir / msg.audio_path), "rb") as w:
        recorded_seconds = w.getnframes() / w.getframerate()
    assert abs(recorded_seconds - len(source) / 8000) <= 0.150

    [transcript] = (
        ds.dataset(s.lake_dir / "transcripts", format="parquet", partitioning="hive")
        .to_table()
        .to_pylist()
    )
    text = transcript["text"].lower()
    assert transcript["message_id"] == msg.message_id
    assert all(word in text for word in INVOICE_KEYWORDS), text

    [call] = lake_calls(s, "acme.example")
    assert (call["call_id"], call["disposition"]) == (meta["call_id"], "voicemail")
    assert call["answered_by"] == "vm-acme.example-102"

    [email] = inbox.messages
    assert email["To"] == "102@acme.example"
    body = next(p for p in email.walk() if p.get_content_type() == "text/plain")
    assert transcript["text"].strip() in body.get_payload(decode=True).decode()

    # -- 102 in the portal: listed with its transcript, the audio loads --
    portal = start_portal(s)
    try:
        log_in(page, portal.url, "102@acme.example")
        page.click("#shell-nav-voicemail")
        item = page.locator(f'[data-message-id="{msg.message_id}"]')
        for word in INVOICE_KEYWORDS:
            expect(item).to_contain_text(word, ignore_case=True)
        expect(item).to_contain_text("Front Desk (101)")
        assert item.locator("audio").evaluate(AUDIO_DURATION_JS) > 0
    finally:
        stop_portal(portal)
