"""RTP-side workarounds for aiortp 0.8.0 (bugs 2, 3, 15, 20 and the two gaps of the table in
``media.workarounds``): A-law polarity, the mirrored telephone-event payload type,
G.722's RTP clock, the jitter buffer's tail, an RTP inactivity watchdog, a latch that
follows no stranger.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiortp import RTPSession
from aiortp.codecs import Codec
from aiortp.codecs.g711 import PcmaCodec as _LibPcmaCodec
from aiortp.codecs.g711 import PcmuCodec
from aiortp.codecs.g722 import G722Codec
from aiosipua import SdpMessage, negotiate_sdp

# --- 2. PCMA polarity -------------------------------------------------------------------------

_SIGN_FLIP = bytes(b ^ 0x80 for b in range(256))


class PcmaCodec(_LibPcmaCodec):
    """G.711 A-law with the sign bit the right way round (bug 2).

    aiortp's A-law tables are consistent with each other but inverted with
    respect to G.711, so its own round trip works while every real phone's
    audio comes out upside down. Flipping bit 7 on the wire fixes both ways.
    """

    def encode(self, pcm: bytes) -> bytes:
        return super().encode(pcm).translate(_SIGN_FLIP)

    def decode(self, payload: bytes) -> bytes:
        return super().decode(payload.translate(_SIGN_FLIP))


CODECS: dict[int, tuple[str, Callable[[], Codec]]] = {
    0: ("PCMU", PcmuCodec),
    8: ("PCMA", PcmaCodec),
    9: ("G722", G722Codec),
}
G711 = [0, 8]  # what every leg answers with; a mailbox deposit offers G.722 first
HD_VOICE = [9, *G711]


def codec_for(payload_type: int) -> Codec:
    """A correct codec for payload type 0 (PCMU), 8 (PCMA) or 9 (G.722)."""
    return CODECS[payload_type][1]()


def payload_type_of(codec_name: str) -> int:
    """The static payload type of a codec of :data:`CODECS` by name."""
    return next(pt for pt, (name, _) in CODECS.items() if name == codec_name)


# --- 15. G.722's RTP clock ---------------------------------------------------------------------


def fix_g722_session(session: RTPSession) -> None:
    """Step a G.722 session's sent timestamps by 160 per 20 ms, and drop its loss
    concealment (bug 15; any other session is left as it is).

    RFC 3551 fixes G.722's RTP clock at 8,000 Hz although it samples at 16 kHz; aiortp's
    sender steps by the codec's ``samples_per_frame`` (320), so a phone's jitter buffer
    would play our prompts at half speed or drop them as late. Its loss concealment steps
    back by 320 too and would place the concealed audio early; without it the recorder
    fills a lost packet with silence, as it does for G.711.
    """
    if not isinstance(session.codec, G722Codec):
        return
    if session._sender is not None:
        session._sender.timestamp_increment = 160
    session._concealer = None


# --- 3. telephone-event payload type ----------------------------------------------------------


def offered_dtmf_payload_type(offer: SdpMessage) -> int | None:
    """The telephone-event payload type of the offer's audio, if any."""
    audio = offer.audio
    if audio is None:
        return None
    for codec in audio.codecs:
        if (codec.encoding_name or "").lower() == "telephone-event":
            return int(codec.payload_type)
    return None


def negotiate_answer(
    offer: SdpMessage, local_ip: str, rtp_port: int, supported: list[int] | None = None
) -> tuple[SdpMessage, int, int | None]:
    """Answer ``offer`` mirroring its telephone-event payload type (bug 3).

    Returns ``(answer, audio payload type, telephone-event payload type or None)``;
    the RTP session must be created with that same DTMF payload type.
    """
    dtmf_pt = offered_dtmf_payload_type(offer)
    answer, pt = negotiate_sdp(
        offer,
        local_ip=local_ip,
        rtp_port=rtp_port,
        supported_codecs=supported or G711,
        dtmf_payload_type=dtmf_pt or 0,
    )
    return answer, pt, dtmf_pt


# --- jitter buffer tail and RTP inactivity ----------------------------------------------------


def drain_jitter_buffer(session: RTPSession) -> int:
    """Deliver every audio packet still held by ``session``'s jitter buffer to ``on_audio``.

    Call at BYE (before ``close``): the buffer keeps ``jitter_prefetch`` frames
    plus the frame in progress, 70-120 ms a recording would otherwise lose.
    Returns the number of frames delivered.
    """
    jb = session._jitter_buffer
    codec = session.codec
    if jb._origin is None or session.on_audio is None:
        return 0
    frames: list[tuple[int, list[bytes]]] = []
    for count in range(jb.capacity):
        packet = jb._packets[(jb._origin + count) % jb.capacity]
        if packet is None or not packet.payload or packet.payload_type != session._payload_type:
            continue  # gaps and RFC 4733 markers
        if frames and frames[-1][0] == packet.timestamp:
            frames[-1][1].append(packet.payload)
        else:
            frames.append((packet.timestamp, [packet.payload]))
    jb.reset()
    for timestamp, payloads in frames:
        data = b"".join(payloads)
        session.on_audio(codec.decode(data) if codec else data, timestamp)
    return len(frames)


class RtpWatchdog:
    """Calls ``on_timeout`` once when no RTP arrived for ``timeout`` seconds.

    aiortp has no inactivity timeout; a caller whose network drops without a
    BYE would otherwise hold the leg (and an open recording) forever. Feed it
    from the session's receive path with ``packet_received``.
    """

    def __init__(self, timeout: float, on_timeout: Callable[[], None]) -> None:
        self.timeout = timeout
        self.on_timeout = on_timeout
        self.last_packet = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def packet_received(self) -> None:
        self.last_packet = time.monotonic()

    # While we play a prompt the caller may legitimately stay silent (no VAD-less phone
    # is required): the player touches the watchdog so only caller silence *after*
    # our audio counts.
    touch = packet_received

    def start(self) -> None:
        self.last_packet = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            idle = time.monotonic() - self.last_packet
            if idle >= self.timeout:
                self._task = None
                self.on_timeout()
                return
            await asyncio.sleep(min(0.25, self.timeout - idle))


# --- 20. symmetric RTP that follows any source ---------------------------------------------------


class RtpLatch:
    """Symmetric RTP that latches once (bug 20).

    aiortp's ``symmetric_rtp`` re-latches on every packet from any source
    (``BaseSession._latch_rtp_addr``): one datagram from a stranger to the leg's port
    sends the caller's audio to the stranger. This latches to the first source that
    sends an RTP version 2 packet, and ``accept`` refuses every other source after it;
    a new remote address from SDP (``update_remote``, a re-INVITE) opens the latch again.
    """

    def __init__(self, session: RTPSession) -> None:
        self.session = session
        self.source: tuple[str, int] | None = None
        session._symmetric_rtp = False  # the library's latch: ours replaces it
        library_update = session.update_remote

        def update_remote(addr: tuple[str, int]) -> None:
            library_update(addr)
            self.source = None

        session.update_remote = update_remote  # type: ignore[method-assign]

    def accept(self, data: bytes, addr: tuple[str, int]) -> bool:
        """Whether a datagram from ``addr`` is the caller's (latching to the first)."""
        if self.source is not None:
            return addr == self.source
        if len(data) < 12 or data[0] >> 6 != 2:
            return False
        self.source = addr
        if addr != self.session._remote_addr:
            self.session._remote_addr = addr
            self.session._remote_rtcp_addr = self.session._compute_rtcp_addr(addr)
        return True
