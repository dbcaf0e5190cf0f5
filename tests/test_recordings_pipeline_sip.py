"""A call through Kamailio and rtpengine, recorded by policy, through the pipeline to the lake.

Two SIPp phones (benchmarks/relay_phones.py: each packet carries its phone's byte) call
101 → 102 with the tenant's policy ``always``. The accounting row becomes the call, the
capture its recording: the WAV holds the caller's audio on the left and the callee's on
the right, sample for sample, and the Recordings list shows it under its call.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.relay_phones import PcapCallee, pcap_call
from kamailio.launcher import KamailioProcess
from kamailio.recording_push import push_recording_policy
from pipeline.ingest import ingest_once
from pipeline.recording_audio import DECODERS, read_channels
from pipeline.recording_ingest import ingest_recordings
from pipeline.recording_query import get_recording, list_recordings
from pipeline.viewer import open_for_viewer
from relay.launcher import RelayProcess
from tests.fixtures.core import Directory
from tests.fixtures.sip import account, register_at

CALLER_BYTE, CALLEE_BYTE = 0x11, 0x22


def test_a_recorded_sip_call_lands_in_the_lake_with_each_phone_in_its_channel(
    kamailio: KamailioProcess, directory: Directory, relay: RelayProcess
) -> None:
    settings = kamailio.settings
    directory.store.set_recording_policy("acme.example", "tenant", "always")
    assert push_recording_policy(settings)
    with PcapCallee(phone_byte=CALLEE_BYTE, packets=50) as callee:
        assert register_at(settings, "102@acme.example", callee).returncode == 0  # type: ignore[arg-type]
        result, _ = pcap_call(
            settings,
            account("101@acme.example"),
            account("102@acme.example"),
            phone_byte=CALLER_BYTE,
            packets=50,
        )
    assert result.returncode == 0, result.errors
    deadline = time.monotonic() + 15
    recorded = calls = 0
    while time.monotonic() < deadline and not (recorded and calls):
        calls += ingest_once(settings).calls
        recorded += ingest_recordings(settings).recordings
        time.sleep(0.1)
    assert (calls, recorded) == (1, 1)

    with open_for_viewer(settings, directory.users["101@acme.example"]) as viewer:
        [row] = list_recordings(viewer.conn)
        assert (row["caller"], row["callee"], row["direction"]) == ("101", "102", "internal")
        recording = get_recording(viewer.conn, row["recording_id"])
    assert recording is not None
    left, right = read_channels(settings.data_dir / recording.audio_path)
    ulaw = DECODERS["PCMU"]
    # each phone's byte fills 159 of every 160 samples of its own channel, none of the other's
    assert np.count_nonzero(left == ulaw[CALLER_BYTE]) >= 0.9 * 50 * 159
    assert np.count_nonzero(right == ulaw[CALLEE_BYTE]) >= 0.9 * 50 * 159
    assert np.count_nonzero(left == ulaw[CALLEE_BYTE]) < 50
    assert np.count_nonzero(right == ulaw[CALLER_BYTE]) < 50
