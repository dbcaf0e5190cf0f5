"""Early media through the real parts: the callee's 183 + RTP reaches the caller before the 200.

The rig of ``tests.fixtures.bridge_rig`` (101 -> 103's menu -> the bridge to
102, Kamailio with rtpengine in the media path). 102 behaves as a carrier
playing an announcement: 180, then 183 with SDP, and SIPp replays ~0.8 s of
a 900 Hz tone (``play_pcap_audio``) to the address of the INVITE's SDP
(rtpengine), then answers 200 with the SDP of an ``RtpPhone`` that talks at
1400 Hz. The caller must hear the far end's tone before the answer (not the
locally made ringback), then 102's voice after it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import sipp_scenarios as steps
from benchmarks.bridge_scenarios import sdp
from benchmarks.rtp_phones import RtpBank, RtpPhone, Stream, encode, goertzel, strongest, tone
from benchmarks.sipp_callers import RtpPlan, write_rtp_pcap
from media.hold_music import RINGBACK_HZ
from tests.fixtures.bridge_rig import CALLEE_HZ, CALLER_HZ, BridgeRig

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

EARLY_HZ = 900.0
EARLY_SECONDS = 0.8
WINDOW = 0.1


def announcing_callee(work: Path, phone: RtpPhone) -> Path:
    """180, 183 + SDP and 0.8 s of EARLY_HZ from SIPp's media port, 200 (the phone), BYE."""
    pcap = write_rtp_pcap(work / "early.pcap", RtpPlan(0, encode(tone(EARLY_HZ, EARLY_SECONDS), 0)))
    text = steps.ringing()
    text += steps.respond("183 Session Progress", body=steps.sdp("[media_port]", 0, 101))
    text += steps.play_pcap(str(pcap), int(EARLY_SECONDS * 1000) + 200)
    text += steps.answer(0, sdp(phone))
    text += steps.callee_request("BYE", 1000, 1)
    path = work / "callee-early.xml"
    path.write_text(steps.scenario("carrier with early media", text))
    return path


def _label(pcm: np.ndarray) -> str:
    if len(pcm) < 400:
        return "-"
    powers = {
        "early": goertzel(pcm, EARLY_HZ),
        "callee": goertzel(pcm, CALLEE_HZ),
        "ringback": min(goertzel(pcm, f) for f in RINGBACK_HZ),
    }
    best = max(powers, key=lambda k: powers[k])
    return best if powers[best] > 0.005 else "-"


def _heard(stream: Stream, since: float, until: float) -> list[str]:
    """The label of each 100 ms of the audio received in [since, until), in order.

    Cut by samples, as a phone's jitter buffer plays them, not by arrival time: on a busy
    box packets arrive in bunches, and 100 ms windows of arrival time then held half a
    window of audio or none ("-") while the announcement was all there.
    """
    pcm = stream.audio(since, until)
    size = int(WINDOW * 8000)
    return [_label(pcm[i : i + size]) for i in range(0, len(pcm) - size + 1, size)]


def test_the_callees_early_media_reaches_the_caller_before_the_answer(
    rig: BridgeRig,
    tmp_path: Path,
) -> None:
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        callee = bank.add(RtpPhone(0, CALLEE_HZ))
        result = rig.call(caller, announcing_callee(tmp_path, callee), talk_ms=None)
    assert result.returncode == 0, (result.errors, rig.callee_lines, rig.callee_errors)
    outcome = rig.outcome()
    assert (outcome.result, outcome.ended_by) == ("answered", "callee"), outcome
    answered_at = outcome.stats["answered_at"]

    received = [r.at for r in caller.stream.received]
    labels_before = _heard(caller.stream, received[0], answered_at)
    # the far end's announcement, for most of its 0.8 s, before the 200 came
    assert labels_before.count("early") >= 5, labels_before
    first_early = labels_before.index("early")
    # it wins over the local ringback: no ringback once it has started
    assert "ringback" not in labels_before[first_early:], str(labels_before)
    # after the answer: 102's voice, the announcement gone
    labels_after = _heard(caller.stream, answered_at, received[-1])
    assert labels_after.count("callee") >= 5 and "early" not in labels_after[3:], labels_after
    # 102's phone hears the caller once answered
    assert strongest(callee.stream.audio()[-4000:], CALLER_HZ) > 0.05
