"""A queue call the media server bridges, recorded by policy: caller left, agent right.

The carrier (a tone of 600 Hz) calls acme's main number, which routes to a queue; agent
101 (1400 Hz) answers. Kamailio records the caller's leg (the leg the media server
places to the agent is not recorded: the caller's leg already carries the agent, whom
the media server relays into it). The pipeline's WAV must hold the caller on the left
and the agent on the right, and list the recording under the caller's call.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks.rtp_phones import RtpBank, RtpPhone, strongest
from kamailio.launcher import KamailioProcess
from kamailio.recording_push import push_recording_policy
from kamailio.rules_push import push_all
from kamailio.traffic import SippUAS, run_sipp
from media.mailbox import StoreMailboxes
from pipeline.lake_layout import RECORDINGS, live_paths
from pipeline.recording_audio import SAMPLE_RATE, read_channels
from pipeline.recording_ingest import ingest_recordings
from relay.launcher import RelayProcess
from switchboard.attendants import MenuDestination
from switchboard.rules import AnsweringRule, Destination
from switchboard.store.queues import CallQueue, QueueMember
from tests.fixtures.call_center import agent_scenario
from tests.fixtures.core import Directory
from tests.fixtures.main_number import ACME, MAIN, carrier_row, trunk_scenario
from tests.fixtures.media import MediaServerThread
from tests.fixtures.sip import register_at

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

CALLER_HZ, AGENT_HZ = 600.0, 1400.0


def test_a_bridged_queue_call_is_recorded_with_caller_and_agent_apart(
    kamailio: KamailioProcess, directory: Directory, relay: RelayProcess, tmp_path: Path
) -> None:
    settings = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=5.0)
    store = directory.store
    queue = store.save_queue(
        CallQueue(
            ACME, "Support", strategy="linear", ring_seconds=5, wrapup_seconds=4,
            members=(QueueMember("101", 1),), announce_seconds=0, max_wait_seconds=60,
            overflow=MenuDestination("voicemail", "100"),
        )
    )  # fmt: skip
    store.set_agent_login(ACME, "101", True)
    did = store.add_did(ACME, MAIN, "Main line")
    store.save_did_rule(
        did, AnsweringRule("Q", 1, None, forward_always=Destination("queue", str(queue.id)))
    )
    store.set_recording_policy(ACME, "tenant", "always")
    push_all(settings, store)
    assert push_recording_policy(settings)
    server = MediaServerThread(
        settings, mailboxes=StoreMailboxes(store, settings.data_dir, settings.spool_dir)
    ).start()
    try:
        with RtpBank() as bank:
            agent = bank.add(RtpPhone(0, AGENT_HZ))
            uas = SippUAS(agent_scenario(tmp_path / "101.xml", agent, hangup_after_ms=2500))
            uas.start()
            try:
                assert register_at(settings, f"101@{ACME}", uas).returncode == 0
                caller = bank.add(RtpPhone(0, CALLER_HZ))
                scenario = trunk_scenario(tmp_path / "carrier.xml", caller, talk_ms=None)
                result = run_sipp(
                    settings,
                    scenario,
                    [carrier_row(settings)],
                    timeout=40,
                    local_port=settings.trunk_port,
                )
            finally:
                uas.stop()
    finally:
        server.stop()
    assert result.returncode == 0, result.errors
    deadline = time.monotonic() + 15
    rows: list[dict] = []
    while time.monotonic() < deadline and not rows:
        if ingest_recordings(settings).recordings:
            rows = [
                r
                for p in live_paths(settings.lake_dir, RECORDINGS.name)
                for r in pq.read_table(p).to_pylist()
            ]
        time.sleep(0.1)
    spool = settings.recording_spool_dir
    listing = sorted(str(f.relative_to(spool)) for f in spool.rglob("*") if f.is_file())
    assert len(rows) == 1, (listing, [r.read_text() for r in spool.glob("quarantine/*.txt")])
    left, right = read_channels(settings.data_dir / rows[0]["audio_path"])
    assert len(left) > 2 * SAMPLE_RATE
    print(
        "DEBUG",
        [round(strongest(c, hz), 4) for c in (left, right) for hz in (CALLER_HZ, AGENT_HZ)],
        rows[0]["duration"],
    )
    assert strongest(left, CALLER_HZ) > 0.05 and strongest(right, AGENT_HZ) > 0.05
    assert strongest(left, AGENT_HZ) < 0.01 and strongest(right, CALLER_HZ) < 0.01
