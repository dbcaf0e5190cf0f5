"""A raw SIP client over UDP for attack tests: exact bytes out, every datagram in.

SIPp cannot send a request Kamailio never challenged with a forged Route, nor
bind to 127.0.0.2; this can. ``Listener`` stands in for the carrier (and
watches any address that must stay silent); ``RawSip`` sends requests from a
chosen source address and answers digest challenges (MD5, no qop: what
Kamailio's auth module sends by default).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

_counter = itertools.count(1)
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


def status_code(datagram: bytes) -> int | None:
    """The status code of a response, None for a request."""
    if not datagram.startswith(b"SIP/2.0 "):
        return None
    return int(datagram[8:11])


def header(datagram: bytes, name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive)."""
    for line in datagram.decode(errors="replace").split("\r\n")[1:]:
        if not line:
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


@dataclass
class Listener:
    """A UDP socket that records every datagram it receives (a carrier, a silent phone)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.host, self.port))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.on_datagram(data)

    def on_datagram(self, data: bytes) -> None:
        """What is done with each datagram (a subclass may answer it too): recorded."""
        self.received.append(data)

    def requests(self) -> list[bytes]:
        return [d for d in self.received if status_code(d) is None]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class RawSip:
    """One UDP socket on ``host`` that sends SIP requests to Kamailio and reads replies."""

    transport = "UDP"

    def __init__(self, kamailio: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self.kamailio = kamailio
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()
        self.received: list[bytes] = []  # everything read so far

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawSip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes, to: tuple[str, int] | None = None) -> None:
        self.sock.sendto(data, to or self.kamailio)

    def replies(self, wait: float = 0.5, until_final: bool = False) -> list[bytes]:
        """Datagrams received within ``wait`` s (stop early at a final reply if asked)."""
        out: list[bytes] = []
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            data = self._receive(left)
            if data is None:
                break
            out.append(data)
            self.received.append(data)
            code = status_code(data)
            if until_final and code is not None and code >= 200:
                break
        return out

    def _receive(self, timeout: float) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recvfrom(65535)[0]
        except (TimeoutError, OSError):
            return None

    def final(self, wait: float = 2.0) -> int | None:
        """The first final status code received within ``wait`` s, None if silence."""
        for data in self.replies(wait, until_final=True):
            code = status_code(data)
            if code is not None and code >= 200:
                return code
        return None

    def request(
        self,
        method: str,
        ruri: str,
        *,
        from_uri: str = "sip:attacker@evil.example",
        to_uri: str | None = None,
        to_tag: str | None = None,
        route: str | None = None,
        call_id: str | None = None,
        from_tag: str | None = None,
        branch: str | None = None,
        cseq: int = 1,
        extra: str = "",
        body: str = "",
        user_agent: str = "raw-sip-test",
    ) -> tuple[bytes, str]:
        """The bytes of one request, and its Call-ID."""
        n = next(_counter)
        call_id = call_id or f"raw-{n}-{time.time_ns()}@{self.host}"
        to = f"<{to_uri or ruri}>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/{self.transport} {self.host}:{self.port};rport;"
            f"branch={branch or f'z9hG4bK-{n}'}",
            "Max-Forwards: 70",
            *([f"Route: {route}"] if route else []),
            f"From: <{from_uri}>;tag={from_tag or f'f{n}'}",
            f"To: {to}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{from_uri.split(':')[1].split('@')[0]}@{self.host}:{self.port}"
            f"{';transport=tls' if self.transport == 'TLS' else ''}>",
            f"User-Agent: {user_agent}",
            *[line for line in extra.splitlines() if line.strip()],
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode(), call_id

    def register(
        self, user: str, domain: str, password: str, *, expires: int = 600, wait: float = 2.0
    ) -> int | None:
        """REGISTER ``user@domain`` (answering the challenge); the final code, None if silence."""
        aor = f"sip:{user}@{domain}"
        call_id = f"reg-{next(_counter)}-{time.time_ns()}@{self.host}"
        extra = f"Expires: {expires}"
        data, _ = self.request(
            "REGISTER", f"sip:{domain}", from_uri=aor, to_uri=aor, call_id=call_id, extra=extra
        )
        self.send(data)
        replies = self.replies(wait, until_final=True)
        if not replies or status_code(replies[-1]) != 401:
            return status_code(replies[-1]) if replies else None
        challenge = header(replies[-1], "WWW-Authenticate") or ""
        auth = digest_authorization(challenge, user, password, "REGISTER", f"sip:{domain}")
        data, _ = self.request(
            "REGISTER", f"sip:{domain}", from_uri=aor, to_uri=aor, call_id=call_id, cseq=2,
            extra=f"{extra}\nAuthorization: {auth}",
        )  # fmt: skip
        self.send(data)
        return self.final(wait)

    def invite(
        self,
        user: str,
        domain: str,
        password: str,
        target: str,
        *,
        wait: float = 2.0,
        extra: str = "",
        from_user: str | None = None,
    ) -> tuple[int | None, str]:
        """An INVITE ``user@domain`` -> ``target`` (a R-URI user of ``domain``), digest auth.

        ``from_user`` puts another user in From than the credentials'. Returns
        the first final code after the challenge was answered (or the
        challenge's), and the Call-ID.
        """
        ruri, aor = f"sip:{target}@{domain}", f"sip:{from_user or user}@{domain}"
        call_id, tag = f"inv-{next(_counter)}-{time.time_ns()}@{self.host}", f"t{time.time_ns()}"
        common = {"from_uri": aor, "call_id": call_id, "from_tag": tag, "body": SDP}
        branch = f"z9hG4bK-inv{time.time_ns()}"
        data, _ = self.request("INVITE", ruri, extra=extra, branch=branch, **common)  # type: ignore[arg-type]
        self.send(data)
        replies = [d for d in self.replies(wait, until_final=True) if status_code(d)]
        if not replies or status_code(replies[-1]) != 407:
            return (status_code(replies[-1]) if replies else None), call_id
        challenged_to = header(replies[-1], "To") or ""
        # the ACK of a negative reply: same branch and CSeq number as the INVITE
        ack, _ = self.request(
            "ACK", ruri, to_uri=challenged_to.split(";tag=")[0].strip("<>"),
            to_tag=challenged_to.partition(";tag=")[2] or None, call_id=call_id,
            from_uri=aor, from_tag=tag, branch=branch,
        )  # fmt: skip
        self.send(ack)
        challenge = header(replies[-1], "Proxy-Authenticate") or ""
        auth = digest_authorization(challenge, user, password, "INVITE", ruri)
        data, _ = self.request(
            "INVITE", ruri, cseq=2, extra=f"{extra}\nProxy-Authorization: {auth}", **common
        )  # type: ignore[arg-type]
        self.send(data)
        return self.final(wait), call_id


class TlsSip(RawSip):
    """The same client over one TLS connection to Kamailio, its certificate verified."""

    transport = "TLS"

    def __init__(self, kamailio: tuple[str, int], cafile: str) -> None:
        context = ssl.create_default_context(cafile=cafile)
        raw = socket.create_connection(kamailio, timeout=5)
        self.sock = context.wrap_socket(raw, server_hostname=kamailio[0])
        self.kamailio = kamailio
        self.host, self.port = self.sock.getsockname()[:2]
        self.received = []
        self._buffer = b""

    def send(self, data: bytes, to: tuple[str, int] | None = None) -> None:
        self.sock.sendall(data)

    def _receive(self, timeout: float) -> bytes | None:
        # one message off the stream: headers, then Content-Length bytes of body
        deadline = time.monotonic() + timeout
        while True:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if sep:
                length = int(header(head + b"\r\n\r\n", "Content-Length") or 0)
                if len(rest) >= length:
                    self._buffer = rest[length:]
                    return head + sep + rest[:length]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65535)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            self._buffer += chunk


def headers(message: bytes, name: str) -> list[str]:
    """Every value of header ``name``, comma-separated values split (``<…>`` kept whole)."""
    values: list[str] = []
    for line in message.decode(errors="replace").split("\r\n")[1:]:
        if not line:
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            values += [v.strip() for v in re.findall(r"<[^>]*>[^,]*", value)]
    return values


def response_to(
    request: bytes, code: int, reason: str, *, to_tag: str, contact: str, sdp: str = ""
) -> bytes:
    """A UAS response to ``request`` (Vias, From, To + tag, Call-ID, CSeq, Record-Route),
    with ``sdp`` as its body if given."""
    lines = [f"SIP/2.0 {code} {reason}"]
    for line in request.decode(errors="replace").split("\r\n")[1:]:
        if not line:
            break
        name = line.partition(":")[0].strip().lower()
        if name in ("via", "from", "call-id", "cseq", "record-route"):
            lines.append(line)
        elif name == "to":
            lines.append(line if ";tag=" in line else f"{line};tag={to_tag}")
    lines.append(f"Contact: <{contact}>")
    if sdp:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(sdp.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + sdp).encode()


def digest_authorization(challenge: str, user: str, password: str, method: str, uri: str) -> str:
    """The Authorization value answering an MD5 digest ``challenge`` without qop."""
    params = dict(_CHALLENGE_RE.findall(challenge))
    realm, nonce = params["realm"], params["nonce"]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    response = md5(f"{md5(f'{user}:{realm}:{password}')}:{nonce}:{md5(f'{method}:{uri}')}")
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5'
    )


SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
