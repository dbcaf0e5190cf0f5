"""A phone that misbehaves, or vanishes, must neither break nor pin the media server.

An authenticated phone (101@acme.example) sends raw SIP through the real Kamailio
to the real media server, without rtpengine, so the media server sees each SDP as
the phone wrote it (the relay would rewrite ``c=``/``m=``: what it writes is always
usable). Each scenario checks what the phone sees — the final answer, the BYE
answered 200, the media server's own BYE, the RTP that arrives — and the SIP
layer's table of calls (``MediaServer.sip_calls``). Bugs 16-19 of
``media.workarounds``' table and the queue's hold music that fed the RTP
inactivity watchdog are each proven here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import re
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks.testbed import make_settings
from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock, push_all
from media.mailbox import StoreMailboxes
from media.server import MediaServer
from switchboard.attendants import MenuDestination
from switchboard.rules import AnsweringRule, Destination
from switchboard.settings import Settings
from switchboard.store.queues import CallQueue
from tests.fixtures.core import Directory
from tests.fixtures.media import MediaServerThread
from tests.security.raw_sip import (
    Listener,
    digest_authorization,
    header,
    headers,
    status_code,
)

pytestmark = pytest.mark.kamailio

ACME = "acme.example"
QUEUE = "100"  # 100's calls go to a queue with no agents: the caller waits on hold music
MAILBOX = "102"  # 102 is not registered: its calls go to its mailbox
RTP_TIMEOUT = 1.5
_n = itertools.count(1)


# --- a phone speaking raw SIP through Kamailio, and its RTP socket ------------------------------


def sdp(port: int, *, m: str | None = None, c: str = "c=IN IP4 127.0.0.1", extra: str = "") -> str:
    """An offer of PCMU and telephone-event 101 on 127.0.0.1:``port`` (lines replaceable)."""
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", c, "t=0 0",
             m or f"m=audio {port} RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000",
             "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16",
             *extra.splitlines()]  # fmt: skip
    return "\r\n".join(line for line in lines if line) + "\r\n"


def rtp_packet(seq: int, ssrc: int = 0x1234) -> bytes:
    """One 20 ms PCMU packet of silence."""
    return (
        struct.pack("!BBHLL", 0x80, 0, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc) + b"\xff" * 160
    )


class RtpSocket(Listener):
    """The phone's RTP port: records what arrives, sends 20 ms packets."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = 0

    def talk(self, to: tuple[str, int], seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sock.sendto(rtp_packet(self.seq), to)
            self.seq += 1
            time.sleep(0.02)


@dataclass
class Call:
    """One dialog the phone started (after digest auth)."""

    phone: Phone
    ruri: str
    call_id: str
    from_tag: str
    cseq: int = 2
    final: int | None = None
    ok: bytes = b""
    to_tag: str = ""
    routes: list[str] = field(default_factory=list)
    contact: str = ""

    @property
    def media(self) -> tuple[str, int]:
        """Where the media server's answer asks for RTP."""
        body = self.ok.partition(b"\r\n\r\n")[2].decode()
        host = re.search(r"c=IN IP4 (\S+)", body)
        port = re.search(r"m=audio (\d+)", body)
        assert host and port, body
        return host.group(1), int(port.group(1))

    def request(self, method: str, *, cseq: int | None = None, body: str = "") -> bytes:
        if cseq is None:
            self.cseq += 1
        p = self.phone
        lines = [
            f"{method} {self.contact or self.ruri} SIP/2.0",
            f"Via: SIP/2.0/UDP {p.host}:{p.port};rport;branch=z9hG4bK-d{next(_n)}-{time.time_ns()}",
            "Max-Forwards: 70",
            *[f"Route: {route}" for route in self.routes],
            f"From: <sip:101@{ACME}>;tag={self.from_tag}",
            f"To: <{self.ruri}>;tag={self.to_tag}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq or self.cseq} {method}",
            f"Contact: <sip:101@{p.host}:{p.port}>",
            *(["Content-Type: application/sdp"] if body else []),
            f"Content-Length: {len(body.encode())}",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def ack(self, cseq: int = 2) -> None:
        self.phone.send(self.request("ACK", cseq=cseq))

    def reinvite(self, body: str) -> int | None:
        """A re-INVITE (ACKed); its final code."""
        self.phone.send(self.request("INVITE", body=body))
        code = self.phone.final_for(self.call_id, "INVITE", self.cseq, 3.0)
        if code is not None:
            self.ack(self.cseq)
        return code

    def bye(self) -> int | None:
        self.phone.send(self.request("BYE"))
        return self.phone.final_for(self.call_id, "BYE", self.cseq, 3.0)

    def bye_received(self, wait: float) -> bool:
        """Whether the media server sent this call a BYE within ``wait`` s."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if any(m.startswith(b"BYE ") for m in self.phone.messages(self.call_id)):
                return True
            time.sleep(0.05)
        return False


class Phone(Listener):
    """101@acme.example over UDP: digest auth by hand, every datagram kept, BYEs answered."""

    def __init__(self, kamailio: tuple[str, int]) -> None:
        self.kamailio = kamailio
        super().__init__()
        self.host = self.sock.getsockname()[0]

    def on_datagram(self, data: bytes) -> None:
        super().on_datagram(data)
        if data.startswith(b"BYE "):  # the media server hangs up: 200 OK
            keep = ("via", "from", "to", "call-id", "cseq")
            lines = ["SIP/2.0 200 OK"] + [
                line for line in data.decode().split("\r\n")[1:]
                if line and line.partition(":")[0].strip().lower() in keep
            ]  # fmt: skip
            self.send(("\r\n".join([*lines, "Content-Length: 0"]) + "\r\n\r\n").encode())

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.kamailio)

    def messages(self, call_id: str) -> list[bytes]:
        return [m for m in list(self.received) if header(m, "Call-ID") == call_id]

    def final_for(self, call_id: str, method: str, cseq: int, wait: float) -> int | None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            for m in self.messages(call_id):
                code = status_code(m)
                if code and code >= 200 and header(m, "CSeq") == f"{cseq} {method}":
                    return code
            time.sleep(0.02)
        return None

    def invite(self, target: str, body: str) -> Call:
        """INVITE ``target`` (challenged, then authenticated); ACKs a 200 and returns the call."""
        n = next(_n)
        ruri, call_id, tag = f"sip:{target}@{ACME}", f"hostile-{n}-{time.time_ns()}", f"t{n}"
        call = Call(self, ruri, call_id, tag)
        auth = ""
        for cseq in (1, 2):
            branch = f"z9hG4bK-i{n}-{cseq}-{time.time_ns()}"
            lines = [
                f"INVITE {ruri} SIP/2.0",
                f"Via: SIP/2.0/UDP {self.host}:{self.port};rport;branch={branch}",
                "Max-Forwards: 70",
                f"From: <sip:101@{ACME}>;tag={tag}",
                f"To: <{ruri}>",
                f"Call-ID: {call_id}",
                f"CSeq: {cseq} INVITE",
                f"Contact: <sip:101@{self.host}:{self.port}>",
                *([f"Proxy-Authorization: {auth}"] if auth else []),
                "Content-Type: application/sdp",
                f"Content-Length: {len(body.encode())}",
            ]
            self.send(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
            call.final = self.final_for(call_id, "INVITE", cseq, 6.0)
            if cseq == 1:
                assert call.final == 407, call.final
                challenge = next(m for m in self.messages(call_id) if status_code(m) == 407)
                to = header(challenge, "To") or ""
                via, forwards, sender, _, cid = lines[1:6]
                ack = [f"ACK {ruri} SIP/2.0", via, forwards, sender, f"To: {to}", cid]
                self.send(
                    ("\r\n".join([*ack, "CSeq: 1 ACK", "Content-Length: 0"]) + "\r\n\r\n").encode()
                )
                proxy = header(challenge, "Proxy-Authenticate") or ""
                auth = digest_authorization(proxy, "101", Directory.SIP_PASSWORD, "INVITE", ruri)
        if call.final == 200:
            call.ok = next(
                m for m in self.messages(call_id)
                if status_code(m) == 200 and header(m, "CSeq") == "2 INVITE"
            )  # fmt: skip
            call.to_tag = (header(call.ok, "To") or "").partition(";tag=")[2].split(";")[0]
            call.routes = headers(call.ok, "Record-Route")
            contact = re.search(r"<([^>]*)>", header(call.ok, "Contact") or "")
            call.contact = contact.group(1) if contact else ""
            call.ack()
        return call


# --- the rig: Kamailio, the media server, 100 -> a queue, 102 -> its mailbox --------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """No rtpengine: the media server gets each SDP as the phone wrote it."""
    return make_settings(tmp_path / "data", relay_enabled=False)


@dataclass
class Rig:
    server: MediaServerThread
    phone: Phone

    @property
    def media(self) -> MediaServer:
        assert self.server.server is not None
        return self.server.server

    def gone(self, call_id: str, wait: float = 2.0) -> bool:
        """Whether the call left the media server (its leg and its SIP dialog) in time."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if call_id not in self.media.legs and call_id not in self.media.sip_calls:
                return True
            time.sleep(0.05)
        return False


@pytest.fixture
def rig(kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock) -> Iterator[Rig]:
    s = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=RTP_TIMEOUT)
    store = directory.store
    voicemail = MenuDestination("voicemail", MAILBOX)
    queue = store.save_queue(CallQueue(
        ACME, "Support", strategy="linear", ring_seconds=5, wrapup_seconds=4, members=(),
        announce_seconds=0, max_wait_seconds=30, overflow=voicemail,
        exit_key="1", exit_destination=voicemail,
    ))  # fmt: skip
    store.save_rule(directory.users[f"{QUEUE}@{ACME}"], AnsweringRule(
        "Q", 1, None, forward_always=Destination("queue", str(queue.id))))  # fmt: skip
    push_all(s, store)
    server = MediaServerThread(s, mailboxes=StoreMailboxes(store, s.data_dir, s.spool_dir))
    server.start()
    phone = Phone((s.sip_host, s.sip_port))
    try:
        yield Rig(server, phone)
    finally:
        phone.close()
        server.stop()


@pytest.fixture
def rtp() -> Iterator[RtpSocket]:
    sock = RtpSocket()
    yield sock
    sock.close()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# --- bug 18: a call the media server ends leaves the SIP layer -----------------------------------


def test_a_call_the_media_server_hangs_up_leaves_the_sip_layer(rig: Rig, rtp: RtpSocket) -> None:
    call = rig.phone.invite(MAILBOX, sdp(rtp.port))
    assert call.final == 200
    rtp.talk(call.media, 0.3)  # then the phone goes silent: the RTP timeout ends the call
    assert call.bye_received(15.0), "the media server never hung up"
    assert rig.gone(call.call_id), "the call stayed in the SIP layer's table"


# --- bug 19: a refused re-INVITE leaves the call as it was ---------------------------------------


@pytest.mark.parametrize(
    ("target", "offer"),
    [(QUEUE, "m=audio {port} RTP/AVP 18"),
     (MAILBOX, "m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000")],
    ids=["queue-g729-only", "mailbox-pcma-after-pcmu"],
)  # fmt: skip
def test_a_refused_reinvite_keeps_the_call_and_its_bye(
    rig: Rig, rtp: RtpSocket, target: str, offer: str
) -> None:
    call = rig.phone.invite(target, sdp(rtp.port))
    assert call.final == 200
    rtp.talk(call.media, 0.3)
    assert call.reinvite(sdp(rtp.port, m=offer.format(port=rtp.port))) == 488
    rtp.talk(call.media, 0.3)  # the ACK of the 488 is through
    leg = rig.media.legs[call.call_id]
    assert leg.call.invite.headers.get_first("cseq") == "2 INVITE"  # the call's INVITE, kept
    before = len(rtp.received)
    rtp.talk(call.media, 0.3)
    assert len(rtp.received) > before, "no more RTP after the refused re-INVITE"
    assert call.bye() == 200
    assert rig.gone(call.call_id), "the leg outlived the caller's BYE"


# --- the hold music never feeds the RTP watchdog --------------------------------------------------


def test_a_queue_caller_who_vanishes_ends_at_the_rtp_timeout(rig: Rig, rtp: RtpSocket) -> None:
    call = rig.phone.invite(QUEUE, sdp(rtp.port))
    assert call.final == 200
    time.sleep(0.5)
    assert len(rtp.received) > 0, "no hold music"
    rtp.close()  # the phone vanishes: no RTP, no BYE (the queue's max wait is 30 s)
    assert call.bye_received(RTP_TIMEOUT + 3.0), "a silent caller stayed in the queue"
    assert rig.gone(call.call_id)


# --- bug 16: a malformed SDP gets 400, never a traceback ------------------------------------------

MALFORMED = {
    "port": lambda p: sdp(p, m="m=audio abc RTP/AVP 0 101"),
    "clock": lambda p: sdp(p, extra="a=rtpmap:0 PCMU/abc"),
    "payload type": lambda p: sdp(p, extra="a=rtpmap:zz PCMU/8000"),
    "bandwidth": lambda p: sdp(p, extra="b=AS:notanumber"),
    "timing": lambda p: sdp(p).replace("t=0 0", "t=x y"),
    "version": lambda p: sdp(p).replace("v=0", "v=zero"),
}


def test_a_malformed_sdp_is_refused_with_400_and_the_call_kept(
    rig: Rig, rtp: RtpSocket, caplog: pytest.LogCaptureFixture
) -> None:
    for what, make in MALFORMED.items():
        assert rig.phone.invite(MAILBOX, make(rtp.port)).final == 400, what
    call = rig.phone.invite(MAILBOX, sdp(rtp.port))
    assert call.final == 200
    for what, make in MALFORMED.items():
        assert call.reinvite(make(rtp.port)) == 400, what
    leg = rig.media.legs[call.call_id]
    assert leg.call.invite.headers.get_first("cseq") == "2 INVITE"  # not the bad re-INVITE
    before = len(rtp.received)
    rtp.talk(call.media, 0.3)
    assert len(rtp.received) > before
    assert call.bye() == 200
    assert rig.gone(call.call_id)
    assert tracebacks(caplog) == []


# --- bug 17: unusable media addresses get 488; hold still works -----------------------------------

UNUSABLE = {
    "port 70000": lambda p: sdp(70000),
    "port -5": lambda p: sdp(p, m="m=audio -5 RTP/AVP 0 101"),
    "port 0": lambda p: sdp(0),
    "IPv6": lambda p: sdp(p, c="c=IN IP6 ::1"),
    "hostname": lambda p: sdp(p, c="c=IN IP4 media.invalid"),
    "broadcast": lambda p: sdp(p, c="c=IN IP4 255.255.255.255"),
    "multicast": lambda p: sdp(p, c="c=IN IP4 224.2.1.1/127"),
}


def test_unusable_media_addresses_are_refused_and_hold_still_works(
    rig: Rig, rtp: RtpSocket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for what, make in UNUSABLE.items():
        assert rig.phone.invite(QUEUE, make(rtp.port)).final == 488, what
    call = rig.phone.invite(QUEUE, sdp(rtp.port))
    assert call.final == 200
    for what, make in UNUSABLE.items():
        assert call.reinvite(make(rtp.port)) == 488, what
    before = len(rtp.received)
    time.sleep(0.3)
    assert len(rtp.received) > before + 5, "the hold music stopped after the refused re-INVITEs"
    hold = sdp(rtp.port, c="c=IN IP4 0.0.0.0", extra="a=sendonly")
    assert call.reinvite(hold) == 200
    assert call.reinvite(sdp(rtp.port)) == 200
    assert call.bye() == 200
    assert rig.gone(call.call_id)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("aiortp")] == []
    assert tracebacks(caplog) == []


# --- bug 20: one packet from a stranger does not take the call's audio ----------------------------


def test_a_strangers_rtp_packet_does_not_redirect_the_call(rig: Rig, rtp: RtpSocket) -> None:
    call = rig.phone.invite(QUEUE, sdp(rtp.port))
    assert call.final == 200
    rtp.talk(call.media, 0.3)  # the leg latches to the phone
    stranger = RtpSocket()
    try:
        stranger.sock.sendto(rtp_packet(1, ssrc=0xBAD), call.media)
        time.sleep(0.2)
        before = len(rtp.received)
        rtp.talk(call.media, 0.5)
        assert len(rtp.received) - before > 10, "the hold music went elsewhere"
        assert stranger.received == [], "the stranger got the call's audio"
    finally:
        stranger.close()
    assert call.bye() == 200


def test_a_key_storm_leaves_a_bounded_queue_of_digits() -> None:
    """3,000 telephone events in a burst queued 954 digits, read by nothing: the queue is
    bounded, the first keys kept (a menu reads those)."""
    from types import SimpleNamespace

    from media.leg import MAX_PENDING_DIGITS, Leg

    leg = Leg(
        call=SimpleNamespace(call_id="storm"),  # type: ignore[arg-type]
        session=None,  # type: ignore[arg-type]
        clock=None,  # type: ignore[arg-type]
        codec_name="PCMU",
        dtmf_payload_type=101,
        rtp_timeout=10.0,
    )
    for i in range(3000):
        leg._on_dtmf("0123456789"[i % 10], 160)
    assert leg.digits.qsize() == MAX_PENDING_DIGITS
    assert leg.digits.get_nowait() == "0"


def test_a_leg_we_place_takes_no_strangers_rtp() -> None:
    """The callee leg of a bridge (``OutboundLeg``) relayed every datagram to its port into
    the call: a stranger's packet reached the caller. It latches like a caller's leg."""
    from types import SimpleNamespace

    from aiortp import RTPSession

    from media.outbound import OutboundLeg

    async def scenario() -> list[tuple[str, int]]:
        session = await RTPSession.create(
            local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", 9), payload_type=0
        )
        call = SimpleNamespace(call_id="out-1")
        leg = OutboundLeg(SimpleNamespace(rtp_timeout=10.0), call, session)  # type: ignore[arg-type]
        heard: list[tuple[str, int]] = []
        leg.set_rtp_handler(lambda _data, addr: heard.append(addr))
        callee, stranger = ("127.0.0.1", 40000), ("127.0.0.1", 40002)
        leg._on_rtp(rtp_packet(1), callee)
        leg._on_rtp(rtp_packet(2, ssrc=0xBAD), stranger)
        leg._on_rtp(rtp_packet(3), callee)
        await session.close()
        return heard

    assert asyncio.run(scenario()) == [("127.0.0.1", 40000)] * 2
