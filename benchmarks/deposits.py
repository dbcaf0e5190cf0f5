"""Speech left as real voicemail messages: a media-server process and one SIPp call each.

What ``benchmarks.transcription``'s call channels (``g711call``, ``g722call``) pass the
speech through: the product's own deposit path rather than a codec run offline. A phone
(SIPp, ``play_pcap_audio``) offers one codec, waits for the greeting and beep, says the
message as RTP, hangs up; the media server records it into the spool as it would any
message (G.722 at 16 kHz); the spool's WAV is what Whisper hears.

The media server is ``benchmarks.media``'s child (every mailbox with a short greeting),
called directly as Kamailio would (the callers' source is the SIP port it trusts).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from benchmarks.sipp_callers import Caller, RtpPlan, g711, g722, speech_wav, wav_pcm
from benchmarks.testbed import make_settings
from switchboard.processes import ServerProcess, udp_bound

MAILBOX = "vm-acme.example-102"
GREETING = "Leave a message."
# The payload type each call channel's phone sends (its audio's rate: the channel's sox rate).
PHONES = {"g711call": 0, "g722call": 9}


class Deposits:
    """A media server taking messages; :meth:`leave` one message per call, in turn."""

    def __init__(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="bench-deposits-"))
        self.settings = make_settings(self.work / "data")
        self.greeting = speech_wav(self.work, GREETING)
        self.wait_ms = int(len(wav_pcm(self.greeting)) / 8 + 400 + 400)  # greeting, beep, margin
        self.box = self.settings.spool_dir / "voicemail/acme.example/102"
        self.server = ServerProcess(
            "media server",
            [sys.executable, "-m", "benchmarks.media", "--serve", str(self.settings.data_dir),
             str(self.settings.media_port), str(self.greeting), str(self.settings.sip_port)],
            ready=lambda: udp_bound(self.settings.media_host, self.settings.media_port),
            output=self.work / "media.log",
        )  # fmt: skip

    def __enter__(self) -> Deposits:
        self.server.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop(30)
        shutil.rmtree(self.work, ignore_errors=True)

    def leave(self, pcm: bytes, channel: str, out: Path) -> Path:
        """Say ``pcm`` (16-bit mono at the channel's phone's rate) as a message; its WAV,
        copied to ``out``."""
        payload_type = PHONES[channel]
        audio = g722(pcm) if payload_type == 9 else g711(pcm, payload_type)
        before = self._messages()
        caller = Caller(
            self.settings, MAILBOX, self.work, payload_type=payload_type,
            audio=RtpPlan(payload_type, audio), wait_ms=self.wait_ms, timeout=60,
        )  # fmt: skip
        result = caller.run()
        if result.returncode != 0:
            raise RuntimeError(f"the deposit call failed: {result.errors[-500:]}")
        deadline = time.monotonic() + 20
        while True:
            new = self._messages() - before
            if new:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no message was spooled")
            time.sleep(0.05)
        meta = json.loads(new.pop().read_text())
        if meta["discarded"]:
            raise RuntimeError(f"the message was discarded: {meta}")
        shutil.copyfile(self.box / f"{meta['message_id']}.wav", out)
        return out

    def _messages(self) -> set[Path]:
        """The finished messages' JSON (not a recording's ``.part.json``)."""
        found = self.box.glob("vm-*.json") if self.box.is_dir() else []
        return {p for p in found if not p.name.endswith(".part.json")}
