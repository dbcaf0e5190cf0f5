"""SIP-side workarounds for aiosipua 0.7.1 (bugs 1 and 4-14 of the table in
``media.workarounds``): the UDP transport, the UAS and its calls, the UAC.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiosipua import (
    IncomingCall,
    OutgoingCall,
    SdpMessage,
    SipRequest,
    SipResponse,
    SipUAC,
    SipUAS,
    UdpSipTransport,
)
from aiosipua.dialog import Dialog, DialogState
from aiosipua.headers import Via, stringify_uri, stringify_via
from aiosipua.transaction import T1, T2, TIMER_H
from aiosipua.transport import _UdpProtocol
from aiosipua.uas_requests import handle_ack
from aiosipua.utils import format_addr, generate_branch, generate_call_id, generate_tag

log = logging.getLogger(__name__)

# --- 1. UDP transport -------------------------------------------------------------------------


class _UdpProtocolNoAssert(_UdpProtocol):
    """The library's protocol minus the ``isinstance`` assert that fails on 3.11."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._owner._udp_transport = transport  # type: ignore[assignment]


class UdpTransport(UdpSipTransport):
    """aiosipua's UDP transport that starts cleanly on Python 3.11 (bug 1)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocolNoAssert(self), local_addr=self.local_addr
        )
        self._udp_transport = transport
        # With port 0 the OS picks one: advertise what was actually bound.
        self.local_addr = tuple(transport.get_extra_info("sockname")[:2])  # type: ignore[assignment]


# --- 4, 5, 6. the UAS and its calls -----------------------------------------------------------


def _top_branch(request: SipRequest) -> str | None:
    vias = request.via
    return vias[0].branch if vias else None


def _is_retransmission(original: SipRequest, request: SipRequest) -> bool:
    """Same INVITE transaction: same top Via branch and CSeq (RFC 3261 §17.2.3)."""
    return (
        _top_branch(original) == _top_branch(request)
        and original.headers.get_first("cseq") == request.headers.get_first("cseq")
        and original.headers.get_first("from") == request.headers.get_first("from")
    )


class MediaCall(IncomingCall):
    """An incoming call whose responses carry Record-Route and whose rejects are reliable.

    Instances are made by ``MediaUAS`` (it re-classes the library's
    ``IncomingCall`` before the application sees it).
    """

    # Set by MediaUAS when it adopts the call (dataclass fields would change __init__).
    _uas: MediaUAS
    _last_response: SipResponse | None

    def _send_response(
        self,
        status_code: int,
        reason: str,
        *,
        body: str = "",
        content_type: str = "",
        extra_headers: dict[str, str] | None = None,
    ) -> SipResponse | None:
        contact: str | None = None
        if self.transport is not None:
            contact = f"<sip:{format_addr(*self._signaling_addr())}>"
        resp = self.dialog.create_response(self.invite, status_code, reason, contact=contact)
        if 100 < status_code < 300:
            # bug 5: a UAS copies Record-Route into every dialog-creating response
            for rr in self.invite.headers.get("record-route"):
                resp.headers.append("Record-Route", rr)
        if body:
            resp.text = body
        if content_type:
            resp.headers.set_single("Content-Type", content_type)
        if self.user_agent:
            resp.headers.set_single("User-Agent", self.user_agent)
        for name, value in (extra_headers or {}).items():
            resp.headers.set_single(name, value)
        if status_code > 100:
            self._last_response = resp
        if self.transport is None:
            return None
        self.transport.send_reply(resp)
        return resp

    def reject(self, status_code: int = 486, reason: str = "") -> None:
        """Send a final error and retransmit it until the ACK (bug 6, RFC 3261 §17.2.1)."""
        super().reject(status_code, reason)
        resp = self._last_response
        if resp is None or self.transport is None or self.transport.reliable:
            return
        self._uas._track_rejected(self, resp)

    def hangup(self) -> SipRequest | None:
        """BYE, sent again until answered when the UAS has our UAC (bug 11)."""
        uac = getattr(self._uas, "uac", None)
        if not isinstance(uac, MediaUAC) or self.dialog.state != DialogState.CONFIRMED:
            return super().hangup()
        local = self._signaling_addr()
        bye = self.dialog.create_request("BYE", via_host=local[0], via_port=local[1])
        self.dialog.terminate()
        uac.send_reliably(bye, self.source_addr)
        return bye

    def resend_last_response(self) -> None:
        """Answer a retransmitted INVITE with what was last sent (bug 4)."""
        if self._last_response is not None and self.transport is not None:
            self.transport.send_reply(self._last_response)


class MediaUAS(SipUAS):
    """aiosipua's UAS with bugs 4-6 fixed. Set ``on_call`` (not ``on_invite``)."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        self.on_call: Callable[[MediaCall], Any] | None = None
        self.on_invite = self._adopt
        self._handlers["ACK"] = self._handle_ack
        # Rejected INVITEs awaiting their ACK: call-id -> (call, retransmission task)
        self._rejected: dict[str, tuple[MediaCall, asyncio.Task[None]]] = {}
        # The last re-INVITE on each outgoing call's dialog (bug 10)
        self._uac_reinvites: dict[str, MediaCall] = {}

    def forget(self, call_id: str) -> None:
        """Drop what is kept for an outgoing call's dialog (call it when the call ends)."""
        self._uac_reinvites.pop(call_id, None)

    def _adopt(self, call: IncomingCall) -> None:
        call.__class__ = MediaCall
        assert isinstance(call, MediaCall)
        call._uas = self
        call._last_response = None
        if self.on_call is not None:
            self.on_call(call)

    def _wrap_uac_dialog(self, request: SipRequest, addr: tuple[str, int]) -> IncomingCall:
        # bug 10: keep the re-INVITE's wrapper, so its retransmission gets the same answer
        call = super()._wrap_uac_dialog(request, addr)
        call.__class__ = MediaCall
        assert isinstance(call, MediaCall)
        call._uas, call._last_response = self, None
        if request.method == "INVITE":
            self._uac_reinvites[request.call_id or ""] = call
        else:
            self._uac_reinvites.pop(request.call_id or "", None)
        return call

    def _handle_invite(self, request: SipRequest, addr: tuple[str, int]) -> None:
        call_id = request.call_id or ""
        existing = self._calls.get(call_id) or self._uac_reinvites.get(call_id)
        if existing is None and call_id in self._rejected:
            existing = self._rejected[call_id][0]
        if isinstance(existing, MediaCall) and _is_retransmission(existing.invite, request):
            existing.resend_last_response()
            return
        super()._handle_invite(request, addr)

    def _handle_ack(self, request: SipRequest, addr: tuple[str, int]) -> None:
        pending = self._rejected.pop(request.call_id or "", None)
        if pending is not None:
            pending[1].cancel()
            self._calls.pop(pending[0].call_id, None)
            return
        handle_ack(self, request, addr)

    def _track_rejected(self, call: MediaCall, resp: SipResponse) -> None:
        async def retransmit() -> None:
            interval, elapsed = T1, 0.0
            try:
                while elapsed < TIMER_H:
                    await asyncio.sleep(interval)
                    elapsed += interval
                    self.transport.send_reply(resp)
                    interval = min(interval * 2, T2)
            finally:
                if self._rejected.get(call.call_id, (None,))[0] is call:
                    del self._rejected[call.call_id]

        old = self._rejected.pop(call.call_id, None)
        if old is not None:
            old[1].cancel()
        self._rejected[call.call_id] = (call, asyncio.get_running_loop().create_task(retransmit()))

    async def stop(self) -> None:
        for _, task in self._rejected.values():
            task.cancel()
        self._rejected.clear()
        await super().stop()


class _Recorder:
    """A transport stand-in that notes what is sent through it (bug 12)."""

    def __init__(self, inner: Any, sent: list[tuple[Any, tuple[str, int]]]) -> None:
        self._inner, self._sent = inner, sent

    def send(self, message: Any, addr: tuple[str, int]) -> None:
        self._sent.append((message, addr))
        self._inner.send(message, addr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _to_tag(message: SipRequest | SipResponse) -> str:
    to = message.to_addr
    return (to.tag if to is not None else None) or ""


class MediaUAC(SipUAC):
    """aiosipua's UAC with bugs 7-9 and 11-14 fixed; ``place_call`` sets From's display name."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        # INVITEs still waiting for a first response (bug 9), by Call-ID
        self._timer_a: dict[str, asyncio.Task[None]] = {}
        # Failed INVITEs whose final reply may come again (bug 8)
        self._failed: dict[str, tuple[SipRequest, tuple[str, int]]] = {}
        # The ACK of each answered call, for its 2xx retransmissions (bug 12), and the
        # ACK of each other fork's 2xx (bug 14), by Call-ID and To-tag
        self._acks: dict[str, tuple[int, SipRequest, tuple[str, int]]] = {}
        self._fork_acks: dict[tuple[str, str], SipRequest] = {}
        # BYEs (and other in-dialog non-INVITEs) awaiting a final response (bug 11), by branch
        self._timer_e: dict[str, asyncio.Task[None]] = {}

    def send_reliably(self, request: SipRequest, remote_addr: tuple[str, int]) -> None:
        """Send a non-INVITE request, again (Timer E) until its final response (bug 11)."""
        self.transport.send(request, remote_addr)
        branch = _top_branch(request)
        if self.transport.reliable or not branch:
            return

        async def resend() -> None:
            interval, elapsed = T1, 0.0
            while elapsed < TIMER_H:
                await asyncio.sleep(interval)
                elapsed += interval
                self.transport.send(request, remote_addr)
                interval = min(interval * 2, T2)
            self._timer_e.pop(branch, None)

        self._timer_e[branch] = asyncio.get_running_loop().create_task(resend())

    def _send_in_dialog(
        self,
        dialog: Dialog,
        method: str,
        remote_addr: tuple[str, int],
        *,
        body: str = "",
        content_type: str = "",
        contact: bool = True,
        extra_headers: dict[str, str] | None = None,
    ) -> SipRequest:
        """The library's in-dialog request, sent reliably unless it is an INVITE (bug 11)."""
        addr = self._local_addr()
        request = dialog.create_request(method, via_host=addr[0], via_port=addr[1])
        if contact:
            request.headers.set_single("Contact", f"<sip:{format_addr(*addr)}>")
        if body:
            request.text = body
            request.headers.set_single("Content-Type", content_type)
        for name, value in (extra_headers or {}).items():
            request.headers.set_single(name, value)
        if method == "INVITE":
            self.transport.send(request, remote_addr)
        else:
            self.send_reliably(request, remote_addr)
        return request

    def place_call(
        self,
        from_uri: str,
        to_uri: str,
        remote_addr: tuple[str, int],
        sdp_offer: SdpMessage,
        *,
        display_name: str = "",
        extra_headers: dict[str, str] | None = None,
        user_agent: str | None = None,
    ) -> OutgoingCall:
        """``send_invite`` with a display name in From and a retransmitted INVITE."""
        dialog = Dialog(
            call_id=generate_call_id(self._local_addr()[0]),
            local_tag=generate_tag(),
            local_uri=from_uri,
            remote_uri=to_uri,
            remote_target=to_uri,
            state=DialogState.EARLY,
        )
        invite = self._build_invite(dialog, sdp_offer=sdp_offer, user_agent=user_agent)
        name = display_name.replace("\\", "").replace('"', "")
        if name:
            invite.headers.set_single("From", f'"{name}" <{from_uri}>;tag={dialog.local_tag}')
        for header, value in (extra_headers or {}).items():
            invite.headers.set_single(header, value)
        self.transactions.create_client(invite)
        self.transport.send(invite, remote_addr)
        call = OutgoingCall(
            dialog=dialog,
            invite=invite,
            sdp_offer=sdp_offer,
            transport=self.transport,
            remote_addr=remote_addr,
            user_agent=user_agent,
        )
        self._calls[dialog.call_id] = call
        if not self.transport.reliable:
            self._timer_a[dialog.call_id] = asyncio.get_running_loop().create_task(
                self._retransmit_invite(call)
            )
        return call

    async def _retransmit_invite(self, call: OutgoingCall) -> None:
        """Timer A (RFC 3261 §17.1.1.2): resend the INVITE until any response comes."""
        interval, elapsed = T1, 0.0
        while elapsed < TIMER_H and call.dialog.state == DialogState.EARLY:
            await asyncio.sleep(interval)
            elapsed += interval
            if call.call_id in self._timer_a:
                self.transport.send(call.invite, call.remote_addr)
            interval *= 2
        self._timer_a.pop(call.call_id, None)

    def handle_response(self, response: SipResponse, addr: tuple[str, int]) -> None:
        if response.status_code >= 200:
            resending = self._timer_e.pop(_top_branch(response) or "", None)
            if resending is not None:
                resending.cancel()
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "INVITE":
            super().handle_response(response, addr)
            return
        call_id = response.call_id or ""
        timer = self._timer_a.pop(call_id, None)
        if timer is not None:
            timer.cancel()
        call = self._calls.get(call_id)
        status = response.status_code
        acked = self._acks.get(call_id)
        if 200 <= status < 300 and acked is not None and acked[0] == cseq.seq:
            if _to_tag(response) != _to_tag(acked[1]):
                # bug 14: another fork answered too: ACK and BYE it in its own dialog
                self._end_fork(response, acked[1], acked[2])
                return
            # bug 12: a retransmitted 2xx gets the same ACK again, not a new transaction
            self.transport.send(acked[1], acked[2])
            return
        if call is not None and 200 <= status < 300 and not call._answered.is_set():
            # bug 13: the dialog is the one of the fork that answered, not of the first 18x
            call.dialog.remote_tag = _to_tag(response) or call.dialog.remote_tag
            # bug 7: the route set (Record-Route reversed) and the remote target (Contact)
            call.dialog.route_set = list(reversed(response.headers.get("record-route")))
            contacts = response.contact
            if contacts and contacts[0].uri is not None:
                call.dialog.remote_target = stringify_uri(contacts[0].uri)
            self._keep_ack(response, addr, call_id, cseq.seq)
            return
        if status >= 300:
            # bug 8: ACK it, and again each time the proxy retransmits it
            sent = (call.invite, call.remote_addr) if call else self._failed.get(call_id)
            if sent is not None and sent[0].cseq is not None and sent[0].cseq.seq == cseq.seq:
                self._ack_failure(sent[0], response, sent[1])
                if call is not None and not (status in (401, 407) and call._auth):
                    self._failed[call_id] = sent
                    loop = asyncio.get_running_loop()
                    loop.call_later(TIMER_H, self._failed.pop, call_id, None)
        super().handle_response(response, addr)

    def _end_fork(self, response: SipResponse, first_ack: SipRequest, to: tuple[str, int]) -> None:
        """ACK a second fork's 2xx and BYE it (RFC 3261 §13.2.2.4), once per To-tag (bug 14).

        Its dialog is built from the answered ACK (From, Call-ID, CSeq) and this
        response (To-tag, Contact, Record-Route); a retransmission of that 2xx
        gets the same ACK again.
        """
        key = (response.call_id or "", _to_tag(response))
        kept = self._fork_acks.get(key)
        if kept is not None:
            self.transport.send(kept, to)
            return
        contacts = response.contact
        target = stringify_uri(contacts[0].uri) if contacts and contacts[0].uri else first_ack.uri
        routes = list(reversed(response.headers.get("record-route")))
        seq = first_ack.cseq.seq if first_ack.cseq is not None else 1
        local = self._local_addr()
        sent = []
        for method, number in (("ACK", seq), ("BYE", seq + 1)):
            request = SipRequest(method=method, uri=target)
            via = Via(
                transport="UDP",
                host=local[0],
                port=local[1],
                params={"branch": generate_branch(), "rport": None},
            )
            request.headers.append("Via", stringify_via(via))
            request.headers.set_single("From", first_ack.headers.get_first("from") or "")
            request.headers.set_single("To", response.headers.get_first("to") or "")
            request.headers.set_single("Call-ID", response.call_id or "")
            request.headers.set_single("CSeq", f"{number} {method}")
            request.headers.set_single("Max-Forwards", "70")
            for route in routes:
                request.headers.append("Route", route)
            sent.append(request)
        ack, bye = sent
        log.info("%s: a second fork answered (To-tag %s): ACK and BYE", key[0], key[1])
        self._fork_acks[key] = ack
        asyncio.get_running_loop().call_later(TIMER_H, self._fork_acks.pop, key, None)
        self.transport.send(ack, to)
        self.send_reliably(bye, to)

    def _keep_ack(
        self, response: SipResponse, addr: tuple[str, int], call_id: str, seq: int
    ) -> None:
        """Let the library answer the first 2xx, keeping the ACK it sends (bug 12)."""
        sent: list[tuple[Any, tuple[str, int]]] = []
        transport = self.transport
        self.transport = _Recorder(transport, sent)  # type: ignore[assignment]
        try:
            super().handle_response(response, addr)
        finally:
            self.transport = transport
        for message, to in sent:
            if isinstance(message, SipRequest) and message.method == "ACK":
                self._acks[call_id] = (seq, message, to)
                asyncio.get_running_loop().call_later(TIMER_H, self._acks.pop, call_id, None)

    def _ack_failure(
        self, invite: SipRequest, response: SipResponse, remote_addr: tuple[str, int]
    ) -> None:
        """ACK a non-2xx final in its INVITE transaction (bug 8, RFC 3261 §17.1.1.3)."""
        ack = SipRequest(method="ACK", uri=invite.uri)
        ack.headers.append("Via", invite.headers.get("via")[0])
        for name in ("from", "call-id"):
            ack.headers.set_single(name.title(), invite.headers.get_first(name) or "")
        ack.headers.set_single("To", response.headers.get_first("to") or "")
        ack.headers.set_single("CSeq", f"{invite.cseq.seq if invite.cseq else 1} ACK")
        ack.headers.set_single("Max-Forwards", "70")
        for route in invite.headers.get("route"):
            ack.headers.append("Route", route)
        self.transport.send(ack, remote_addr)

    def close(self) -> None:
        for task in [*self._timer_a.values(), *self._timer_e.values()]:
            task.cancel()
        self._timer_a.clear()
        self._timer_e.clear()
        super().close()
