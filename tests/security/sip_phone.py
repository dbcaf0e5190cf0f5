"""A phone in raw SIP over UDP: it registers, calls, answers and keeps its dialog, and it
writes exactly the headers a test gives it (a real phone's UI would not let it lie).

Beside :mod:`tests.security.raw_sip` (one request, its replies): this one runs a thread
that answers what Kamailio sends it (INVITE: 180 then 200 or 486; anything else: 200)
and keeps every datagram, so a test sees what reached this phone.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass

from tests.security.raw_sip import (
    Listener,
    digest_authorization,
    header,
    headers,
    response_to,
    status_code,
)

_counter = itertools.count(1)
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


@dataclass(frozen=True)
class Dialog:
    """What the calling side keeps of an answered call."""

    call_id: str
    from_uri: str
    from_tag: str
    to_uri: str
    to_tag: str
    routes: tuple[str, ...]  # the Record-Route set, reversed: the route set of the caller


Outcome = tuple[int | None, str, Dialog | None]  # final code, Call-ID, an answered dialog


class SipPhone(Listener):
    """A :class:`Listener` on 127.0.0.1 (or ``host``; a free port, or ``port``: the carrier's)
    that answers: ``answer``, 200 to a new INVITE, else 486."""

    def __init__(
        self,
        kamailio: tuple[str, int],
        *,
        answer: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.kamailio = kamailio
        self.answer = answer
        self._lock = threading.Lock()
        super().__init__(host, port)  # another loopback address: a phone on another machine

    # -- what arrives (everything comes from Kamailio, and is answered there) ------------
    def on_datagram(self, data: bytes) -> None:
        with self._lock:
            self.received.append(data)
        if status_code(data) is None and not data.startswith(b"ACK "):
            self._answer(data)

    def _answer(self, request: bytes) -> None:
        if not request.startswith(b"INVITE ") or ";tag=" in (header(request, "To") or ""):
            self._reply(request, 200, "OK")
            return
        self._reply(request, 180, "Ringing")
        if self.answering(request):
            self._reply(request, 200, "OK", SDP.format(port=40002))
        else:
            self._reply(request, 486, "Busy Here")

    def answering(self, invite: bytes) -> bool:
        """Whether this phone answers ``invite`` (a new INVITE that reached it)."""
        return self.answer

    def _reply(self, request: bytes, code: int, reason: str, body: str = "") -> None:
        contact = f"sip:phone@{self.host}:{self.port}"
        tag = f"uas{self.port}"
        self.send(response_to(request, code, reason, to_tag=tag, contact=contact, sdp=body))

    def requests(self, method: str, call_id: str | None = None) -> list[bytes]:
        """The requests of ``method`` that reached this phone (of one call, if given)."""
        with self._lock:
            found = [d for d in self.received if d.startswith(f"{method} ".encode())]
        return [d for d in found if call_id is None or header(d, "Call-ID") == call_id]

    def _final(self, call_id: str, cseq: int, wait: float) -> bytes | None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self._lock:
                replies = [d for d in self.received if header(d, "Call-ID") == call_id]
            for data in replies:
                code = status_code(data)
                if code and code >= 200 and (header(data, "CSeq") or "").split()[0] == str(cseq):
                    return data
            time.sleep(0.02)
        return None

    # -- what it sends -----------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.kamailio)

    def build(
        self,
        method: str,
        ruri: str,
        *,
        from_uri: str,
        call_id: str,
        from_tag: str,
        cseq: int,
        to_uri: str | None = None,
        to_tag: str | None = None,
        routes: tuple[str, ...] = (),
        contact: str | None = None,
        extra: tuple[str, ...] = (),
        body: str = "",
        display: str = "",
    ) -> bytes:
        name = f'"{display}" ' if display else ""
        lines = [
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};rport;"
            f"branch=z9hG4bK-p{next(_counter)}-{time.time_ns()}",
            "Max-Forwards: 70",
            *[f"Route: {route}" for route in routes],
            f"From: {name}<{from_uri}>;tag={from_tag}",
            f"To: <{to_uri or ruri}>" + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <{contact or f'sip:phone@{self.host}:{self.port}'}>",
            *extra,
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def request(
        self,
        method: str,
        ruri: str,
        *,
        login: tuple[str, str, str],
        to_uri: str | None = None,
        contact: str | None = None,
        extra: tuple[str, ...] = (),
        wait: float = 4.0,
        display: str = "",
    ) -> Outcome:
        """``method`` as ``login`` = (user, domain, password), answering the digest challenge;
        (final code, Call-ID, the dialog of an answered INVITE, ACKed)."""
        user, domain, password = login
        from_uri, call_id = f"sip:{user}@{domain}", f"p-{next(_counter)}-{time.time_ns()}@test"
        common = {
            "from_uri": from_uri,
            "to_uri": to_uri,
            "call_id": call_id,
            "from_tag": f"f{next(_counter)}",
            "contact": contact,
            "display": display,
        }
        body = SDP.format(port=40000) if method == "INVITE" else ""
        self.send(self.build(method, ruri, cseq=1, extra=extra, body=body, **common))  # type: ignore[arg-type]
        first = self._final(call_id, 1, wait)
        code = status_code(first) if first else None
        if first is None or code not in (401, 407):
            return code, call_id, None
        if method == "INVITE":  # the ACK of the challenge
            to_tag = (header(first, "To") or "").partition(";tag=")[2].split(";")[0]
            self.send(self.build("ACK", ruri, cseq=1, to_tag=to_tag, **common))  # type: ignore[arg-type]
        challenge = header(first, "WWW-Authenticate") or header(first, "Proxy-Authenticate")
        name = "Authorization" if code == 401 else "Proxy-Authorization"
        answer = digest_authorization(challenge or "", user, password, method, ruri)
        self.send(
            self.build(
                method, ruri, cseq=2, extra=(*extra, f"{name}: {answer}"), body=body, **common
            )  # type: ignore[arg-type]
        )
        final = self._final(call_id, 2, wait)
        code = status_code(final) if final else None
        if final is None or method != "INVITE":
            return code, call_id, None
        to_tag = (header(final, "To") or "").partition(";tag=")[2].split(";")[0]
        if code != 200:
            self.send(self.build("ACK", ruri, cseq=2, to_tag=to_tag, **common))  # type: ignore[arg-type]
            return code, call_id, None
        routes = tuple(reversed(headers(final, "Record-Route")))
        target = re.search(r"<([^>]*)>", header(final, "Contact") or "")
        dialog = Dialog(call_id, from_uri, str(common["from_tag"]), to_uri or ruri, to_tag, routes)
        self.send(
            self.build(
                "ACK",
                target.group(1) if target else ruri,
                cseq=2,
                to_tag=to_tag,
                routes=routes,
                **common,
            )  # type: ignore[arg-type]
        )
        return code, call_id, dialog

    def register(
        self,
        user: str,
        domain: str,
        password: str,
        *,
        contact: str | None = None,
        expires: int = 600,
    ) -> int | None:
        """REGISTER ``user@domain`` with ``contact`` (this phone's address by default)."""
        aor = f"sip:{user}@{domain}"
        code, _, _ = self.request(
            "REGISTER",
            f"sip:{domain}",
            login=(user, domain, password),
            to_uri=aor,
            contact=contact,
            extra=(f"Expires: {expires}",),
        )
        return code
