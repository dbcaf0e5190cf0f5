"""RTP phones for bridged calls: a Python socket plays a tone and keeps what it hears.

SIPp cannot tell what audio it received, so SIPp signals
(``benchmarks.bridge_scenarios``) with an SDP naming the port of an
``RtpPhone``: a UDP socket that sends a tone of its own
every 20 ms and keeps every packet it receives (arrival time, header,
payload). A phone latches onto whoever sends to it (symmetric RTP), so one
socket serves many calls (the benchmark) and needs no port from the SDP it
never sees. Received audio is decoded by the tables below (plain G.711, not
aiortp, so a codec bug cannot cancel itself out) and tones are found with
Goertzel. All phones run on one thread (``RtpBank``) with an absolute 20 ms
schedule.
"""

from __future__ import annotations

import itertools
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import numpy as np

FRAME = 160
RATE = 8000
# Linux SO_TIMESTAMP: the kernel's arrival time of each datagram (struct timeval), so a
# phone thread that was not scheduled does not see gaps the network never had
SO_TIMESTAMP = 29

# --- G.711 (ITU-T reference formulas) --------------------------------------------------------


def _ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, np.where(seg == 1, t + 0x108, (t + 0x108) << (seg - 1)))
    return np.where(a & 0x80, t, -t).astype(np.int16)


DECODE = {0: _ulaw_decode_table(), 8: _alaw_decode_table()}


def encode(pcm: np.ndarray, payload_type: int) -> bytes:
    """Encode s16 PCM by nearest table entry (exact for the tables' own values)."""
    table = DECODE[payload_type].astype(np.int32)
    order = np.argsort(table)
    idx = np.searchsorted(table[order], pcm.astype(np.int32)).clip(1, 255)
    lo, hi = order[idx - 1], order[idx]
    pick = np.where(np.abs(table[lo] - pcm) <= np.abs(table[hi] - pcm), lo, hi)
    return pick.astype(np.uint8).tobytes()


def tone(freq: float, seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * freq * t) * level * 32767).astype(np.int16)


def goertzel(pcm: np.ndarray, freq: float) -> float:
    """Relative power of ``freq`` in ``pcm`` (0..~1 for a full-scale pure tone)."""
    if len(pcm) == 0:
        return 0.0
    x = pcm.astype(np.float64) / 32768
    n = np.arange(len(x))
    c = np.exp(-2j * np.pi * freq * n / RATE)
    return float(abs(np.dot(x, c)) ** 2 / (len(x) ** 2 / 4))


def strongest(pcm: np.ndarray, freq: float) -> float:
    """The strongest presence of ``freq`` in any 250 ms of ``pcm`` (windows every 125 ms).

    What a listener hears, where :func:`goertzel` over a long stretch is not: a packet
    late or lost on a busy machine jumps the tone's phase, and one coherent sum over
    the stretch then falls though every window of it holds the tone."""
    windows = [pcm[i : i + 2000] for i in range(0, len(pcm) - 2000 + 1, 1000)]
    return max((goertzel(w, freq) for w in windows), default=0.0)


# --- RTP phones ------------------------------------------------------------------------------


@dataclass
class Received:
    at: float  # arrival, on time.monotonic()'s clock (the kernel's timestamp)
    payload_type: int
    marker: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


@dataclass
class Stream:
    """What one phone exchanges with one peer address."""

    peer: tuple[str, int]
    raw: list[tuple[float, bytes]] = field(default_factory=list)  # (arrival, datagram)
    seq: int = 1000
    timestamp: int = 16000
    ssrc: int = 0
    offset: int = 0  # position in the phone's audio loop

    @property
    def received(self) -> list[Received]:
        """The packets received so far, parsed (the receive loop only stores them)."""
        out = []
        for at, data in list(self.raw):
            b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
            payload = data[12 + 4 * (b0 & 0x0F) :]
            out.append(Received(at, b1 & 0x7F, b1 >> 7, seq, ts, ssrc, payload))
        return out

    def audio(self, since: float = 0.0, until: float = float("inf")) -> np.ndarray:
        """Decoded audio received between two instants (G.711 packets only)."""
        parts = [
            DECODE[r.payload_type][np.frombuffer(r.payload, dtype=np.uint8)]
            for r in self.received
            if r.payload_type in DECODE and since <= r.at < until
        ]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def gaps(self, threshold: float = 0.06) -> int:
        """Arrival gaps longer than ``threshold`` s between audio packets (after the first)."""
        times = [r.at for r in self.received if r.payload_type in DECODE]
        return sum(1 for a, b in itertools.pairwise(times) if b - a > threshold)


class RtpPhone:
    """A UDP RTP endpoint playing ``freq`` Hz (or silent), recording what arrives, per peer."""

    def __init__(
        self,
        payload_type: int = 0,
        freq: float | None = 1000.0,
        *,
        dtmf_payload_type: int = 101,
        host: str = "127.0.0.1",
    ) -> None:
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        self._realtime_offset = time.time() - time.monotonic()
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.streams: dict[tuple[str, int], Stream] = {}
        self.sending = freq is not None
        self._audio = encode(tone(freq or 1000.0, 1.0), payload_type)
        self._digits: list[tuple[tuple[str, int] | None, str]] = []
        self._lock = threading.Lock()

    @property
    def stream(self) -> Stream:
        """The one peer of a single-call phone (the first that sent)."""
        assert self.streams, "no RTP received yet"
        return next(iter(self.streams.values()))

    def send_digit(self, digit: str, peer: tuple[str, int] | None = None) -> None:
        """Queue an RFC 4733 digit (80 ms, then 3 end packets) in place of audio."""
        with self._lock:
            self._digits.append((peer, digit))

    def _receive(self) -> None:
        while True:
            try:
                data, ancillary, _, addr = self.sock.recvmsg(2048, 64)
            except BlockingIOError:
                return
            if len(data) < 12:
                continue
            now = time.monotonic()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(value) >= 16:
                    sec, usec = struct.unpack("qq", value[:16])
                    now = sec + usec / 1e6 - self._realtime_offset
            stream = self.streams.get(addr)
            if stream is None:
                with self._lock:
                    stream = self.streams[addr] = Stream(addr, ssrc=0x10000000 + len(self.streams))
            stream.raw.append((now, data))

    def _packet(self, stream: Stream, pt: int, payload: bytes, ts: int, marker: int = 0) -> bytes:
        header = struct.pack(
            "!BBHII", 0x80, (marker << 7) | pt, stream.seq & 0xFFFF, ts & 0xFFFFFFFF, stream.ssrc
        )
        stream.seq += 1
        return header + payload

    def _tick(self) -> None:
        if not self.sending:
            return
        with self._lock:
            streams = list(self.streams.values())
            digits, self._digits = self._digits, []
        for peer, digit in digits:
            for stream in streams:
                if peer is None or stream.peer == peer:
                    self._send_digit(stream, digit)
        for stream in streams:
            frame = self._audio[stream.offset : stream.offset + FRAME]
            stream.offset = (stream.offset + FRAME) % len(self._audio)
            self.sock.sendto(self._packet(stream, self.payload_type, frame, stream.timestamp),
                             stream.peer)  # fmt: skip
            stream.timestamp += FRAME

    def _send_digit(self, stream: Stream, digit: str) -> None:
        event = "0123456789*#".index(digit)
        ts = stream.timestamp
        for i in range(1, 5):
            payload = struct.pack("!BBH", event, 10, i * FRAME)
            self.sock.sendto(self._packet(stream, self.dtmf_payload_type, payload, ts, i == 1),
                             stream.peer)  # fmt: skip
        for _ in range(3):
            payload = struct.pack("!BBH", event, 0x80 | 10, 5 * FRAME)
            self.sock.sendto(self._packet(stream, self.dtmf_payload_type, payload, ts),
                             stream.peer)  # fmt: skip
        stream.timestamp += 5 * FRAME

    def close(self) -> None:
        self.sock.close()


class RtpBank:
    """One thread driving many ``RtpPhone``s: receive as packets come, send every 20 ms."""

    def __init__(self) -> None:
        self.phones: list[RtpPhone] = []
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.slips = 0

    def add(self, phone: RtpPhone) -> RtpPhone:
        self.phones.append(phone)
        self._selector.register(phone.sock, selectors.EVENT_READ, phone)
        return phone

    def start(self) -> RtpBank:
        self._thread.start()
        return self

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            timeout = max(0.0, next_tick - time.monotonic())
            for key, _ in self._selector.select(timeout):
                key.data._receive()
            now = time.monotonic()
            if now >= next_tick:
                if now - next_tick > 0.02:
                    self.slips += 1
                    next_tick = now
                for phone in self.phones:
                    phone._tick()
                next_tick += 0.02

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for phone in self.phones:
            self._selector.unregister(phone.sock)
            phone.close()
        self._selector.close()

    def __enter__(self) -> RtpBank:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
