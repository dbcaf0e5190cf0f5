"""A client for rtpengine's ng control protocol: bencode over UDP.

Each request is ``<cookie> <bencoded dict>`` in one datagram; rtpengine
answers ``<cookie> <bencoded dict>`` with ``"result": "ok" | "pong" | "error"``
(an error carries ``"error-reason"``). Kamailio's ``rtpengine`` module speaks the
same protocol for offer/answer/delete; Python uses it for what happens mid-call:
start and stop recording of a live call by Call-ID, queries, pings.

Errors::

    NGError                  anything that went wrong talking to rtpengine
    ├── NGUnavailable        no reply in time / could not send (rtpengine down?)
    ├── NGProtocolError      a reply that is not bencode or not for our cookie
    └── NGFailure            rtpengine answered "error" (.command, .reason),
                             e.g. "Unknown call-id" for a call it does not relay

The transport is a seam (``NGTransport``): tests pass a fake that answers
from a table, so the encoding and error paths need no network.
"""

from __future__ import annotations

import itertools
import secrets
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol

Bencodable = bytes | str | int | list[Any] | dict[str, Any]


class NGError(Exception):
    """Talking to rtpengine's ng control port failed."""


class NGUnavailable(NGError):
    """rtpengine did not answer (not running, wrong port, timeout)."""


class NGProtocolError(NGError):
    """rtpengine's reply could not be read as an ng answer to our request."""


class NGFailure(NGError):
    """rtpengine answered the command with ``result: error``."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command}: {reason}")
        self.command = command
        self.reason = reason


# ---------------------------------------------------------------- bencode


def bencode(value: Bencodable) -> bytes:
    """Encode ``value`` (str/bytes/int/list/dict with str keys, sorted) as bencode."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans: use 'yes'/'no' or a flag list")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list | tuple):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes) -> Any:
    """Decode one bencoded value; byte strings come back as str (UTF-8, replaced)."""
    value, end = _decode_at(data, 0)
    if end != len(data):
        raise ValueError(f"trailing bytes after bencoded value at {end}")
    return value


def _decode_at(data: bytes, i: int) -> tuple[Any, int]:
    if i >= len(data):
        raise ValueError("bencode ended early")
    head = data[i : i + 1]
    if head == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1 : end]), end + 1
    if head == b"l":
        items, i = [], i + 1
        while data[i : i + 1] != b"e":
            item, i = _decode_at(data, i)
            items.append(item)
        return items, i + 1
    if head == b"d":
        mapping: dict[str, Any] = {}
        i += 1
        while data[i : i + 1] != b"e":
            key, i = _decode_at(data, i)
            mapping[str(key)], i = _decode_at(data, i)
        return mapping, i + 1
    if head.isdigit():
        colon = data.index(b":", i)
        length = int(data[i:colon])
        start = colon + 1
        if start + length > len(data):
            raise ValueError("bencoded string runs past the end")
        return data[start : start + length].decode(errors="replace"), start + length
    raise ValueError(f"not bencode at offset {i}: {head!r}")


def recording_metadata(
    *, tenant: str, call_id: str, caller: str, callee: str, direction: str, from_tag: str = ""
) -> str:
    """The metadata line of a recording, as kamailio-media.cfg route MEDIA_OFFER writes it."""
    fields = {
        "tenant": tenant,
        "call_id": call_id,
        "caller": caller,
        "callee": callee,
        "direction": direction,
        "from_tag": from_tag,
    }
    for name, value in fields.items():
        if any(c in value for c in "| \r\n"):
            raise ValueError(f"recording metadata {name} may not hold '|', spaces or newlines")
    return "|".join(f"{name}:{value}" for name, value in fields.items())


# ---------------------------------------------------------------- transport


class NGTransport(Protocol):
    """Sends one datagram and returns the reply datagram (or raises ``NGUnavailable``)."""

    def exchange(self, datagram: bytes, timeout: float) -> bytes: ...


class UDPTransport:
    """The real transport: one UDP socket per exchange, to ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)

    def exchange(self, datagram: bytes, timeout: float) -> bytes:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(self.address)
                sock.send(datagram)
                return sock.recv(65535)
            except (TimeoutError, OSError) as exc:
                # a refused port shows up as ConnectionRefusedError on recv
                raise NGUnavailable(
                    f"no answer from rtpengine at {self.address[0]}:{self.address[1]}: {exc}"
                ) from exc


class FunctionTransport:
    """A transport that hands each decoded request to ``answer`` (tests)."""

    def __init__(self, answer: Callable[[dict[str, Any]], Mapping[str, Any] | None]) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []

    def exchange(self, datagram: bytes, timeout: float) -> bytes:
        cookie, _, body = datagram.partition(b" ")
        request = bdecode(body)
        self.requests.append(request)
        reply = self.answer(request)
        if reply is None:
            raise NGUnavailable("no answer (test transport)")
        return cookie + b" " + bencode(dict(reply))


# ---------------------------------------------------------------- client


class NGClient:
    """ng protocol client; one request per call, retried once on silence (UDP)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 2223,
        *,
        timeout: float = 1.0,
        transport: NGTransport | None = None,
    ) -> None:
        self.transport: NGTransport = transport or UDPTransport(host, port)
        self.timeout = timeout
        self._cookies = itertools.count(1)
        # rtpengine answers a cookie it has seen from its cache without running the
        # command: cookies must be unique across every client of every process
        self._prefix = f"{secrets.token_hex(6)}_"

    def request(self, command: str, **params: Bencodable) -> dict[str, Any]:
        """Send ``command`` with ``params`` (``_`` in names becomes ``-``); return the reply."""
        body: dict[str, Any] = {"command": command}
        body.update({name.replace("_", "-"): value for name, value in params.items()})
        cookie = f"{self._prefix}{next(self._cookies)}".encode()
        datagram = cookie + b" " + bencode(body)
        try:
            raw = self.transport.exchange(datagram, self.timeout)
        except NGUnavailable:
            # UDP may drop one datagram; ng replies are cached by cookie, so a resend is safe
            raw = self.transport.exchange(datagram, self.timeout)
        got_cookie, _, payload = raw.partition(b" ")
        if got_cookie != cookie:
            raise NGProtocolError(f"{command}: reply for cookie {got_cookie!r}, sent {cookie!r}")
        try:
            reply = bdecode(payload)
        except ValueError as exc:
            raise NGProtocolError(f"{command}: reply is not bencode: {exc}") from exc
        if not isinstance(reply, dict):
            raise NGProtocolError(f"{command}: reply is not a dictionary: {reply!r}")
        if reply.get("result") == "error":
            raise NGFailure(command, str(reply.get("error-reason", "unknown error")))
        return reply

    def ping(self) -> bool:
        """True when rtpengine answers ``pong``."""
        return self.request("ping").get("result") == "pong"

    def start_recording(self, call_id: str, metadata: str | None = None) -> None:
        """Start writing the live call ``call_id``'s RTP (pcap) from now on.

        ``metadata`` (see :func:`recording_metadata`) ends up in the call's
        metadata file, as Kamailio's is for a call recorded by policy.
        """
        if metadata is None:
            self.request("start recording", call_id=call_id)
        else:
            self.request("start recording", call_id=call_id, metadata=metadata)

    def stop_recording(self, call_id: str) -> None:
        """Stop writing the call's RTP; the call itself goes on."""
        self.request("stop recording", call_id=call_id)

    def query(self, call_id: str) -> dict[str, Any]:
        """rtpengine's view of one call (tags, streams, packet counters)."""
        return self.request("query", call_id=call_id)

    def list_calls(self, limit: int = 1000) -> list[str]:
        """Call-IDs rtpengine relays now."""
        return [str(c) for c in self.request("list", limit=limit).get("calls", [])]
