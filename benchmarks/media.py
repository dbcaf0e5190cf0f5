"""Concurrent recordings one media-server process holds without audio gaps, and CPU per leg.

One ``MediaServer`` process (short greeting) takes SIPp calls to
``vm-acme.example-102``; every caller streams the same 8 s, 440 Hz tone as
PCMU RTP (``play_pcap_audio``). The call rate is chosen so that about N
recordings run at once; N steps up. Per step:

- messages recorded / calls placed;
- gaps: 20 ms frames of a recording that do not match the tone (per-frame
  SNR under 20 dB against the ideal sine, aligned on the call's end; G.711
  alone gives ~38 dB); recordings longer than the audio sent; and "late
  starts": recordings shorter than sent because the greeting + beep ended
  after the caller (on a fixed timer) started talking - a load symptom of
  call set-up, not an audio gap;
- CPU of the media-server process (utime + stime from /proc) per leg-second
  of recording, i.e. "% of one core per concurrent leg".

    .venv/bin/python -m benchmarks.media [--steps 25,50,100] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.sipp_callers import Caller, RtpPlan, g711, speech_wav, wav_pcm
from benchmarks.testbed import make_settings
from switchboard.processes import ServerProcess, udp_bound

GREETING = "Leave a message."  # short, so most of a call is recording


def _serve(data_dir: str, port: int, greeting: str, kamailio_port: int) -> None:
    """Child mode: a media server with a short greeting until SIGTERM.

    ``kamailio_port``: the SIP port it trusts, the callers' source (as from Kamailio).
    """
    import asyncio
    import logging

    from media.mailbox import PhoneMailboxSettings, StoredMessage
    from media.server import MediaServer

    class ShortGreeting:
        """Every mailbox greets briefly; no phone access (the benchmark only leaves messages)."""

        def settings(self, tenant: str, ext: str) -> PhoneMailboxSettings:
            return PhoneMailboxSettings(active_greeting=Path(greeting))

        def verify_pin(self, tenant: str, ext: str, pin: str) -> bool:
            return False

        def new_messages(self, tenant: str, ext: str) -> list[StoredMessage]:
            return []

        def set_message_state(self, tenant: str, ext: str, message_id: str, state: str) -> None:
            pass

        def set_greeting(self, tenant: str, ext: str, kind: str, path: Path) -> None:
            pass

    logging.basicConfig(level=logging.WARNING)
    settings = make_settings(
        Path(data_dir), media_port=port, sip_port=kamailio_port, rtp_timeout_seconds=5
    )
    asyncio.run(MediaServer(settings, mailboxes=ShortGreeting()).serve_forever())


def _bad_frames(recorded: np.ndarray, ideal: np.ndarray) -> int:
    n = min(len(recorded), len(ideal)) // 160 * 160
    if n == 0:
        return 0
    rec = recorded[:n].astype(float).reshape(-1, 160)
    ref = ideal[:n].astype(float).reshape(-1, 160)
    err = np.sum((rec - ref) ** 2, axis=1) + 1e-9
    snr = 10 * np.log10(np.sum(ref**2, axis=1) / err)
    return int(np.count_nonzero(snr < 20))


def run(steps: list[int], seconds: float) -> list[dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    settings = make_settings(work / "data")
    greeting = speech_wav(work, GREETING)
    greet_s = len(wav_pcm(greeting)) / 8000 + 0.4
    tone = (np.sin(2 * np.pi * 440 * np.arange(int(seconds * 8000)) / 8000) * 8000).astype("<i2")
    ulaw = g711(tone.tobytes(), 0)
    # the ideal recording is what G.711 carries: decode sox's own encoding back
    from media.workarounds import codec_for

    ideal = np.frombuffer(codec_for(0).decode(ulaw), dtype="<i2")

    # ready once it listens: the prompts are synthesised before (seconds)
    server = ServerProcess(
        "media server",
        [sys.executable, "-m", "benchmarks.media", "--serve", str(settings.data_dir),
         str(settings.media_port), str(greeting), str(settings.sip_port)],
        ready=lambda: udp_bound(settings.media_host, settings.media_port),
        output=work / "media.log",
    ).start()  # fmt: skip
    results = []
    try:
        for concurrent in steps:
            box = settings.spool_dir / "voicemail/acme.example/102"
            for old in box.glob("*"):
                old.unlink()
            call_len = greet_s + 0.3 + seconds + 0.3
            rate = concurrent / call_len
            calls = int(concurrent * 2)
            caller = Caller(
                settings, "vm-acme.example-102", work, audio=RtpPlan(0, ulaw),
                wait_ms=int(greet_s * 1000 + 300), after_ms=300, rate=rate, calls=calls,
                timeout=call_len * 3 + calls / rate + 30,
                extra=["-max_socket", "2000"],
            )  # fmt: skip
            cpu0, t0 = server.cpu_seconds(), time.monotonic()
            result = caller.run()
            time.sleep(1)
            cpu = server.cpu_seconds() - cpu0
            wall = time.monotonic() - t0
            metas = [json.loads(p.read_text()) for p in box.glob("vm-*.json")]
            bad_frames = bad_duration = late_start = 0
            for meta in metas:
                wav = box / f"{meta['message_id']}.wav"
                if not wav.exists():
                    bad_duration += 1
                    continue
                recorded = wav_pcm(wav)
                if len(recorded) > len(ideal) + 160:
                    bad_duration += 1  # longer than what was sent: duplicated audio
                elif len(recorded) < len(ideal) - 160:
                    late_start += 1  # audio sent before our beep ended is not recorded
                # align on the end (the caller hangs up right after its audio)
                bad_frames += _bad_frames(recorded, ideal[max(0, len(ideal) - len(recorded)) :])
            leg_seconds = sum(m["duration"] for m in metas) or 1.0
            row = {
                "target_concurrent": concurrent,
                "calls": calls,
                "sipp_ok": result.returncode == 0,
                "messages": len(metas),
                "bad_frames": bad_frames,
                "too_long": bad_duration,
                "late_start": late_start,
                "cpu_s": round(cpu, 2),
                "wall_s": round(wall, 1),
                "avg_core_pct": round(100 * cpu / wall, 1),
                "core_pct_per_leg": round(100 * cpu / leg_seconds, 2),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        server.stop(30)
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="25,50,100")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    run([int(s) for s in args.steps.split(",")], args.seconds)


if __name__ == "__main__":
    main()
