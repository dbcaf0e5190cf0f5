"""One answered call's media (a leg) and the shared 20 ms clock that paces all playback.

A leg turns aiortp's callbacks into what an application awaits: audio frames
(pushed to a sink, e.g. a recorder), DTMF digits (a queue), the end of the
call (an event with its reason) and paced playback. Every leg of a process
is paced by ONE ``MediaClock`` task: 150 legs with their own timers cost
more and drift apart (DESIGN, "aiosipua 0.7.1 + aiortp 0.8.0").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortp import RTPSession

from media.workarounds import MediaCall, RtpLatch, RtpWatchdog, drain_jitter_buffer
from switchboard.resample import NARROW, convert, frame_bytes

log = logging.getLogger(__name__)

MAX_PENDING_DIGITS = 64

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
TICK = 0.020

RtpHandler = Callable[[bytes, tuple[str, int]], None]


class Ticking(Protocol):
    """What the clock paces: a leg playing a prompt, a bridge relaying two legs."""

    def tick(self) -> None: ...


# How often, at most, the clock says it slipped (a burst is one line, not fifty a second).
SLIP_REPORT_SECONDS = 10.0


class MediaClock:
    """One task ticking every 20 ms on an absolute schedule; legs and bridges subscribe.

    A tick that starts more than a tick late is a slip: the worker was short of CPU, so
    every prompt it played stuttered and a beep ended late (a caller who spoke at the
    beep lost their first words). The clock resyncs rather than bursting, counts the slip
    and says so in the log, at most once per :data:`SLIP_REPORT_SECONDS`.
    """

    def __init__(self) -> None:
        self._subscribers: set[Ticking] = set()
        self._task: asyncio.Task[None] | None = None
        self.slips = 0  # ticks that started more than one tick late
        self._reported_slips = 0
        self._reported_at = -SLIP_REPORT_SECONDS

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def subscribe(self, subscriber: Ticking) -> None:
        self._subscribers.add(subscriber)

    def unsubscribe(self, subscriber: Ticking) -> None:
        self._subscribers.discard(subscriber)

    async def _run(self) -> None:
        next_tick = time.monotonic()
        while True:
            next_tick += TICK
            delay = next_tick - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -TICK:
                self.slips += 1
                next_tick = time.monotonic()  # resync: never burst to catch up
                self._report_slips(next_tick, -delay)
            for subscriber in list(self._subscribers):
                try:
                    subscriber.tick()
                except Exception:
                    log.exception("playback tick failed on %r", subscriber)
                    self._subscribers.discard(subscriber)

    def _report_slips(self, now: float, late: float) -> None:
        if now - self._reported_at < SLIP_REPORT_SECONDS:
            return
        log.warning(
            "media clock slipped: %d tick(s) started late since the last report, the last"
            " by %.0f ms, with %d leg(s) and bridge(s) playing; this media worker is short"
            " of CPU (prompts stutter, beeps end late): give it fewer calls or more"
            " media_workers",
            self.slips - self._reported_slips,
            late * 1000,
            len(self._subscribers),
        )
        self._reported_slips, self._reported_at = self.slips, now


@dataclass(eq=False)  # identity hash: legs live in the clock's set
class Leg:
    """The media side of one answered call."""

    call: MediaCall
    session: RTPSession
    clock: MediaClock
    codec_name: str
    dtmf_payload_type: int | None
    rtp_timeout: float
    # The leg's audio rate: 8 kHz (G.711), or 16 kHz for a G.722 mailbox deposit; what it
    # plays is converted to it (switchboard.resample), what it hears arrives at it.
    rate: int = NARROW
    # Keys pressed and not yet read; a key storm past the bound is dropped (3,000 events in a
    # burst queued 954 digits), since no menu, PIN or extension reads more than a few.
    digits: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(MAX_PENDING_DIGITS))
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None
    audio_sink: Callable[[bytes, int], None] | None = None
    _playing: bytearray = field(default_factory=bytearray)
    _play_done: asyncio.Event = field(default_factory=asyncio.Event)
    _watchdog: RtpWatchdog | None = None
    # Set while a bridge takes this leg's RTP straight from the socket (``divert_rtp``)
    _diverted: RtpHandler | None = None

    @property
    def call_id(self) -> str:
        return self.call.call_id

    def start(self) -> None:
        """Wire the RTP callbacks and the inactivity watchdog (after the 200 OK)."""
        self.session.on_audio = self._on_audio
        self.session.on_dtmf = self._on_dtmf
        self._watchdog = RtpWatchdog(self.rtp_timeout, self._on_rtp_timeout)
        handle_rtp = self.session._handle_rtp
        watchdog = self._watchdog
        latch = RtpLatch(self.session)  # bug 20: a stranger's packet is dropped, not followed

        def on_rtp(data: bytes, addr: tuple[str, int]) -> None:
            if not latch.accept(data, addr):
                return
            watchdog.packet_received()
            (self._diverted or handle_rtp)(data, addr)

        assert self.session._rtp_transport is not None
        self.session._rtp_transport._on_rtp = on_rtp
        self._watchdog.start()

    def divert_rtp(self, handler: RtpHandler | None) -> None:
        """Hand each RTP datagram to ``handler`` instead of aiortp's receive path (None: back).

        A bridge relays packets without aiortp's jitter buffer and decoder (no
        80 ms prefetch, no decode/encode for the same codec); the watchdog still
        sees every packet.
        """
        self._diverted = handler

    def touch_watchdog(self) -> None:
        """Count the call as alive now (the other leg of a bridge is talking)."""
        if self._watchdog is not None:
            self._watchdog.touch()

    def _on_audio(self, pcm: bytes, timestamp: int) -> None:
        if self.audio_sink is not None:
            self.audio_sink(pcm, timestamp)

    def _on_dtmf(self, digit: str, duration: int) -> None:
        log.debug("%s: DTMF %s", self.call_id, digit)
        if self.digits.full():
            log.info("%s: DTMF %s dropped: %d keys unread", self.call_id, digit, MAX_PENDING_DIGITS)
            return
        self.digits.put_nowait(digit)

    def _on_rtp_timeout(self) -> None:
        log.info("%s: no RTP for %.1f s, hanging up", self.call_id, self.rtp_timeout)
        self.finish("rtp_timeout", send_bye=True)

    def remote_hangup(self) -> None:
        """The caller sent BYE (or CANCEL): deliver the buffered tail, then end."""
        self.finish("hangup", send_bye=False)

    def finish(self, reason: str, *, send_bye: bool) -> None:
        """End the leg once: drain the jitter buffer into the sink, stop timers, BYE if asked."""
        if self.ended.is_set():
            return
        self.end_reason = reason
        try:
            drain_jitter_buffer(self.session)
        except Exception:
            log.exception("%s: jitter buffer drain failed", self.call_id)
        if self._watchdog is not None:
            self._watchdog.stop()
        self.clock.unsubscribe(self)
        self._playing.clear()
        self._play_done.set()
        if send_bye:
            self.call.hangup()
        self.ended.set()

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.stop()
        self.clock.unsubscribe(self)
        await self.session.close()

    # --- playback -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Send the next 20 ms of the current prompt (called by the MediaClock)."""
        if not self._playing:
            self.clock.unsubscribe(self)
            self._play_done.set()
            return
        if self._watchdog is not None:
            self._watchdog.touch()
        size = frame_bytes(self.rate)
        frame = bytes(self._playing[:size])
        del self._playing[:size]
        if len(frame) < size:
            frame += bytes(size - len(frame))
        self.session.send_audio_pcm_auto(frame)

    async def play(self, pcm: bytes, *, interruptible: bool = False) -> bool:
        """Play ``pcm`` (the media's own 8 kHz audio); True if it played to the end (False:
        hung up or a digit came)."""
        if self.ended.is_set():
            return False
        self._playing[:] = convert(pcm, NARROW, self.rate)
        self._play_done.clear()
        self.clock.subscribe(self)
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._play_done.wait())}
        waits.add(asyncio.ensure_future(self.ended.wait()))
        digit_wait: asyncio.Future[Any] | None = None
        if interruptible:
            digit_wait = asyncio.ensure_future(self._digit_ready())
            waits.add(digit_wait)
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        self._playing.clear()
        self.clock.unsubscribe(self)
        return not self.ended.is_set() and (digit_wait is None or digit_wait not in done)

    async def _digit_ready(self) -> None:
        while self.digits.empty():
            await asyncio.sleep(0.02)

    async def read_digits(
        self, *, max_digits: int = 1, terminator: str = "#", timeout: float = 8.0
    ) -> str | None:
        """Collect up to ``max_digits`` (stop at ``terminator``); None if the call ended."""
        collected = ""
        deadline = time.monotonic() + timeout
        while len(collected) < max_digits:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.ended.is_set():
                break
            get = asyncio.ensure_future(self.digits.get())
            ended = asyncio.ensure_future(self.ended.wait())
            done, _ = await asyncio.wait(
                {get, ended}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            if get not in done:
                get.cancel()
                ended.cancel()
                break
            ended.cancel()
            digit = get.result()
            if digit == terminator:
                break
            collected += digit
        return None if self.ended.is_set() else collected
