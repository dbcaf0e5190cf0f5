"""The recording notice: a carrier's caller hears "This call may be recorded." (issue 13).

Through the real parts: the carrier (SIPp + an RTP phone) calls a DID that rings
102 (a SIPp phone with an RTP phone) via Kamailio and rtpengine; with the tenant's
notice on, rtpengine's media player plays the prompt into the caller's side right
after the answer, so the caller's received audio matches the prompt WAV, and the
callee (talking from the answer on) is not heard over it, only after it; with it
off the caller hears no notice and the callee at once; the callee never hears it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bridge_scenarios import callee_scenario
from benchmarks.rtp_phones import DECODE, RtpBank, RtpPhone, goertzel
from cli import main as cli
from kamailio.launcher import KamailioProcess
from kamailio.recording_push import push_recording_policy
from kamailio.rules_push import push_all
from kamailio.traffic import SippUAS, run_sipp
from media.prompts import RECORDING_NOTICE_NAME, read_wav_pcm, recording_notice_file
from switchboard.rules import AnsweringRule, Destination
from switchboard.settings import Settings
from switchboard.store import ProvisioningError
from tests.fixtures.core import Directory
from tests.fixtures.main_number import carrier_row, trunk_scenario
from tests.fixtures.relay import talk_first
from tests.fixtures.sip import register_at

ACME = "acme.example"
DID = "+15550001000"  # carrier_row dials this number


def notice_match(received: np.ndarray, prompt: np.ndarray) -> float:
    """Peak normalised cross-correlation of the prompt within the received audio (0..1)."""
    # padded: the player may drop the prompt's last partial 20 ms frame
    pad = np.zeros(len(prompt))
    r = np.concatenate([pad, received.astype(np.float64), pad])
    p = prompt.astype(np.float64) - prompt.mean()
    n = len(r) + len(p)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(r, size) * np.conj(np.fft.rfft(p, size)), size)
    corr = corr[: len(r) - len(p) + 1]
    # each window's energy about its mean, from running sums (a convolution is O(n*m))
    sums, squares = (np.concatenate([[0.0], np.cumsum(x)]) for x in (r, r * r))
    m = len(p)
    energy = (squares[m:] - squares[:-m]) - (sums[m:] - sums[:-m]) ** 2 / m
    scores = corr / np.sqrt(np.maximum(energy, 1e-9) * float(p @ p))
    return float(scores.max())


def by_source(phone: RtpPhone) -> dict[int, np.ndarray]:
    """What ``phone`` received, decoded per RTP source (SSRC).

    rtpengine 10.5's player sends the notice as a source of its own while it keeps
    forwarding the other phone's RTP, so the two are told apart by SSRC.
    """
    sources: dict[int, list[np.ndarray]] = {}
    for stream in phone.streams.values():
        for r in stream.received:
            if r.payload_type in DECODE:
                pcm = DECODE[r.payload_type][np.frombuffer(r.payload, dtype=np.uint8)]
                sources.setdefault(r.ssrc, []).append(pcm)
    return {ssrc: np.concatenate(parts) for ssrc, parts in sources.items()}


def arrivals(phone: RtpPhone, ssrcs: set[int]) -> list[float]:
    """When ``phone`` received each audio packet of the sources ``ssrcs``, in order."""
    return sorted(
        r.at
        for stream in phone.streams.values()
        for r in stream.received
        if r.payload_type in DECODE and r.ssrc in ssrcs
    )


@pytest.fixture
def did_to_102(kamailio: KamailioProcess, directory: Directory) -> KamailioProcess:
    store = directory.store
    did = store.add_did(ACME, DID, "Main line")
    store.save_did_rule(
        did, AnsweringRule("Desk", 1, None, forward_always=Destination("extension", "102"))
    )
    push_all(kamailio.settings, store)
    store.set_recording_policy(ACME, "tenant", "always")
    return kamailio


@pytest.mark.parametrize("announce", [True, False])
def test_carrier_caller_hears_the_notice_only_when_on(
    did_to_102: KamailioProcess, directory: Directory, tmp_path: Path, announce: bool
) -> None:
    s = did_to_102.settings
    assert s.relay_enabled
    prompt = np.frombuffer(read_wav_pcm(recording_notice_file(s.data_dir)), dtype="<i2")
    directory.store.set_recording_announcement(ACME, announce)
    assert directory.store.recording_announcement(ACME) is announce
    assert push_recording_policy(s)
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, 600.0))
        phone_102 = bank.add(RtpPhone(0, 1400.0))
        callee = callee_scenario(tmp_path / "102.xml", phone_102, ring_ms=100, hangup_after_ms=3800)
        with SippUAS(callee) as uas:
            assert register_at(s, f"102@{ACME}", uas).returncode == 0
            threading.Thread(target=talk_first, args=(phone_102, s), daemon=True).start()
            result = run_sipp(
                s, trunk_scenario(tmp_path / "carrier.xml", caller, talk_ms=None),
                [carrier_row(s)], timeout=20, local_port=s.trunk_port,
            )  # fmt: skip
    assert result.returncode == 0, result.stderr
    heard, callee_heard = by_source(caller), by_source(phone_102)
    assert heard and callee_heard, "a side received no RTP"
    scores = {ssrc: notice_match(pcm, prompt) for ssrc, pcm in heard.items()}
    caller_score = max(scores.values())
    callee_score = max(notice_match(pcm, prompt) for pcm in callee_heard.values())
    assert callee_score < 0.3, f"the callee heard the notice ({callee_score:.2f})"
    # the callee's RTP (its 1400 Hz) as it reached the caller, by source
    callee_ssrcs = {ssrc for ssrc, pcm in heard.items() if goertzel(pcm, 1400.0) > 0.02}
    callee_at = arrivals(caller, callee_ssrcs)
    assert len(callee_at) > 25, "the caller did not hear the callee"
    if not announce:
        assert caller_score < 0.3, f"the caller heard a notice that is off ({caller_score:.2f})"
        return
    assert caller_score > 0.6, f"the caller did not hear the notice ({caller_score:.2f})"
    notice = max(scores, key=scores.__getitem__)
    assert notice not in callee_ssrcs
    notice_at = arrivals(caller, {notice})
    start, end = notice_at[0], notice_at[-1]
    assert end - start > 0.8 * len(prompt) / 8000, "the notice was cut short"
    # alone: nothing of the callee while it played (20 ms of slack at each end) ...
    overlap = [t for t in callee_at if start + 0.02 < t < end - 0.02]
    assert not overlap, f"{len(overlap)} packets of the callee over the notice"
    # ... then the callee, soon after it
    after = [t for t in callee_at if t >= end - 0.02]
    assert len(after) > 25 and after[0] - end < 0.3, (after[:1], end)


def test_cli_turns_the_notice_on_and_off_and_kamailio_gets_the_key(
    env: Settings, directory: Directory, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["tenant", "edit", ACME, "--announce-recording"]) == 0
    assert "recording notice of tenant acme.example: on" in capsys.readouterr().out
    assert (env.data_dir / "prompts" / RECORDING_NOTICE_NAME).stat().st_size > 8000
    db = sqlite3.connect(env.provisioning_db)
    keys = "select key_name, key_value from recording_policy_htable where key_name like 'ann%'"
    assert db.execute(keys).fetchall() == [("announce:acme.example", "on")]
    assert cli.main(["tenant", "edit", ACME, "--no-announce-recording"]) == 0
    assert db.execute(keys).fetchall() == []
    db.close()
    with pytest.raises(SystemExit):  # a user has no notice of their own
        cli.main(["user", "edit", "102", "--tenant", ACME, "--announce-recording"])
    with pytest.raises(ProvisioningError, match="no tenant nowhere"):
        directory.store.set_recording_announcement("nowhere.example", True)
