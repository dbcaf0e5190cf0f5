"""A small typed client for Kamailio's JSON-RPC over HTTP (jsonrpcs + xhttp).

Kamailio answers on ``http://127.0.0.1:<rpc_port>/RPC`` with no
authentication, which is why it listens on loopback only. Requests carry
positional params: ``{"jsonrpc": "2.0", "method": "ul.dump", "params": [], "id": 1}``.

Errors::

    RPCError                 anything that went wrong talking to Kamailio
    ├── RPCUnavailable       could not connect / timed out / not JSON-RPC
    └── RPCFault             Kamailio answered with a JSON-RPC error
                             (.code, .message), e.g. 500 "Method Not Found"
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import httpx


class RPCError(Exception):
    """Talking to Kamailio's JSON-RPC failed."""


class RPCUnavailable(RPCError):
    """Kamailio could not be reached (not running, wrong port, timeout)."""


class RPCFault(RPCError):
    """Kamailio answered the call with an error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: {code} {message}")
        self.method = method
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Registration:
    """One registered contact of an extension, as usrloc holds it."""

    contact: str
    user_agent: str
    expires_in: int
    received: str | None


class KamailioRPC:
    """JSON-RPC client; ``transport`` lets tests use ``httpx.MockTransport``."""

    def __init__(
        self, url: str, timeout: float = 2.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url
        # Kamailio closes the connection after each reply (set_reply_close):
        # a pooled keep-alive connection would be dead on its next use.
        self._client = httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={"Connection": "close"},
            limits=httpx.Limits(max_keepalive_connections=0),
            # Plain HTTP on loopback: loading the CA bundle cost ~120 ms per client
            # (most of a one-user push, measured); nothing here is ever verified.
            verify=False,
        )
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KamailioRPC:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` with positional ``params`` and return its ``result``."""
        payload = {
            "jsonrpc": "2.0",
            "method": method,
            "params": list(params),
            "id": next(self._ids),
        }
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise RPCUnavailable(f"{method}: cannot reach Kamailio at {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise RPCUnavailable(
                f"{method}: HTTP {response.status_code} from {self.url} is not JSON-RPC"
            ) from exc
        if not isinstance(body, dict):
            raise RPCUnavailable(f"{method}: unexpected JSON-RPC answer {body!r}")
        if "error" in body:
            error = body["error"] or {}
            raise RPCFault(method, int(error.get("code", 0)), str(error.get("message", "")))
        if "result" not in body:
            raise RPCUnavailable(f"{method}: JSON-RPC answer without result")
        return body["result"]

    def registrations(self, extension: str, domain: str) -> list[Registration]:
        """Contacts registered for ``extension@domain``; [] when none."""
        try:
            result = self.call("ul.lookup", "location", f"{extension}@{domain}")
        except RPCFault as fault:
            # Kamailio 5.6 answers 500 "AOR not found in location table"
            if fault.code == 404 or "not found" in fault.message.lower():
                return []
            raise
        return parse_lookup(result)


def parse_lookup(result: Any) -> list[Registration]:
    """Registrations from an ``ul.lookup`` result (``{"AoR":…, "Contacts":[…]}``)."""
    if not isinstance(result, dict):
        return []
    now = time.time()
    registrations = []
    for item in result.get("Contacts") or []:
        contact = item.get("Contact", item) if isinstance(item, dict) else {}
        expires = contact.get("Expires")
        if isinstance(expires, int | float) or (isinstance(expires, str) and expires.isdigit()):
            expires_in = int(expires)
        else:  # "permanent" or an absolute time
            expires_in = -1 if expires == "permanent" else int(now)
        received = contact.get("Received")
        registrations.append(
            Registration(
                contact=str(contact.get("Address", "")),
                user_agent=str(contact.get("User-Agent", "")),
                expires_in=expires_in,
                received=None if received in (None, "", "[not set]") else str(received),
            )
        )
    return registrations
