"""SIP-side workarounds for aiosipua 0.7.1 (bugs 1, 4-6, 10 and 16-19 of the table in
``media.workarounds``): the UDP transport, the UAS and its calls. The UAC (bugs 7-9,
11-14) is in ``media.workarounds.uac``, the SDP checks (16-17) in ``media.workarounds.sdp``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosipua import IncomingCall, SdpMessage, SipRequest, SipResponse, SipUAS, UdpSipTransport
from aiosipua.dialog import DialogState, _default_reason
from aiosipua.transaction import T1, T2, TIMER_H
from aiosipua.transport import _UdpProtocol
from aiosipua.uas_requests import handle_ack
from aiosipua.utils import format_addr

from media.workarounds.sdp import Refusal, check_offer
from media.workarounds.uac import MediaUAC, top_branch

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


# --- 4, 5, 6, 10, 16-19. the UAS and its calls ----------------------------------------------


def _is_retransmission(original: SipRequest, request: SipRequest) -> bool:
    """Same INVITE transaction: same top Via branch and CSeq (RFC 3261 §17.2.3)."""
    return (
        top_branch(original) == top_branch(request)
        and original.headers.get_first("cseq") == request.headers.get_first("cseq")
        and original.headers.get_first("from") == request.headers.get_first("from")
    )


def _offers_sdp(request: SipRequest) -> bool:
    """Whether aiosipua will parse the body as SDP (its own test, in ``_handle_invite``)."""
    return bool(request.body) and request.content_type == "application/sdp"


@dataclass
class _Rejected:
    """A final error to an INVITE, sent again until its ACK (bug 6)."""

    call: MediaCall
    request: SipRequest  # the INVITE (or re-INVITE) it answers
    response: SipResponse
    task: asyncio.Task[None]
    in_dialog: bool  # a refused re-INVITE: the call itself lives on (bug 19)


class MediaCall(IncomingCall):
    """An incoming call whose responses carry Record-Route and whose rejects are reliable.

    Instances are made by ``MediaUAS`` (it re-classes the library's
    ``IncomingCall`` before the application sees it).
    """

    # Set by MediaUAS when it adopts the call (dataclass fields would change __init__).
    _uas: MediaUAS
    _last_response: SipResponse | None
    # What a re-INVITE replaced (invite, offer, last response): put back if it is refused
    _before_reinvite: tuple[SipRequest, SdpMessage | None, SipResponse | None] | None

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

    def accept(self, sdp_answer: SdpMessage | None = None) -> None:
        self._before_reinvite = None  # an accepted re-INVITE is the call's state now
        super().accept(sdp_answer)

    def reject(self, status_code: int = 486, reason: str = "") -> None:
        """Send a final error and retransmit it until the ACK (bug 6, RFC 3261 §17.2.1).

        A refused re-INVITE leaves the established call as it was (bug 19, RFC 3261
        §14.2): the library would terminate the dialog, so the caller's BYE would get
        481 while the call's media runs on.
        """
        if self._answered and self.dialog.state == DialogState.CONFIRMED:
            resp = self._send_response(status_code, reason or _default_reason(status_code))
            request, before = self.invite, self._before_reinvite
            if before is not None:
                self.invite, self.sdp_offer, self._last_response = before
                self._before_reinvite = None
            if resp is not None and self.transport is not None and not self.transport.reliable:
                self._uas._track_rejected(self, request, resp, in_dialog=True)
            return
        super().reject(status_code, reason)
        resp = self._last_response
        if resp is None or self.transport is None or self.transport.reliable:
            return
        self._uas._track_rejected(self, self.invite, resp, in_dialog=False)

    def hangup(self) -> SipRequest | None:
        """BYE, sent again until answered when the UAS has our UAC (bug 11); the call
        leaves the UAS's table (bug 18: the library forgets only calls the peer ended)."""
        self._uas._release(self)
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
    """aiosipua's UAS with bugs 4-6, 10 and 16-19 fixed. Set ``on_call`` (not ``on_invite``)."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        self.on_call: Callable[[MediaCall], Any] | None = None
        self.on_invite = self._adopt
        self._handlers["ACK"] = self._handle_ack
        # Final errors awaiting their ACK, by Call-ID
        self._rejected: dict[str, _Rejected] = {}
        # The last re-INVITE on each outgoing call's dialog (bug 10)
        self._uac_reinvites: dict[str, MediaCall] = {}

    def forget(self, call_id: str) -> None:
        """Drop what is kept for an outgoing call's dialog (call it when the call ends)."""
        self._uac_reinvites.pop(call_id, None)

    def _adopt(self, call: IncomingCall) -> None:
        _make_media_call(self, call)
        assert isinstance(call, MediaCall)
        if self.on_call is not None:
            self.on_call(call)

    def _wrap_uac_dialog(self, request: SipRequest, addr: tuple[str, int]) -> IncomingCall:
        # bug 10: keep the re-INVITE's wrapper, so its retransmission gets the same answer
        call = _make_media_call(self, super()._wrap_uac_dialog(request, addr))
        if request.method == "INVITE":
            self._uac_reinvites[request.call_id or ""] = call
        else:
            self._uac_reinvites.pop(request.call_id or "", None)
        return call

    def _handle_invite(self, request: SipRequest, addr: tuple[str, int]) -> None:
        call_id = request.call_id or ""
        rejected = self._rejected.get(call_id)
        if rejected is not None and _is_retransmission(rejected.request, request):
            self.transport.send_reply(rejected.response)
            return
        existing = self._calls.get(call_id) or self._uac_reinvites.get(call_id)
        if isinstance(existing, MediaCall) and _is_retransmission(existing.invite, request):
            existing.resend_last_response()
            return
        refusal = check_offer(request.text) if _offers_sdp(request) else None
        if refusal is not None:
            # bugs 16-17: before the library parses (and raises) or replaces the invite
            self._refuse(request, refusal)
            return
        live = self._calls.get(call_id)
        if isinstance(live, MediaCall) and live.dialog.state == DialogState.CONFIRMED:
            live._before_reinvite = (live.invite, live.sdp_offer, live._last_response)
        super()._handle_invite(request, addr)

    def _refuse(self, request: SipRequest, refusal: Refusal) -> None:
        """Answer an INVITE whose offer we cannot use, statelessly (Kamailio retransmits
        the request, never our answer: each copy gets the same bytes, To-tag included)."""
        log.info("%s: INVITE refused with %d: %s", request.call_id, refusal.status, refusal.detail)
        resp = SipResponse(status_code=refusal.status, reason_phrase=refusal.reason)
        for via in request.headers.get("via"):
            resp.headers.append("Via", via)
        resp.headers.set_single("From", request.headers.get_first("from") or "")
        to = request.headers.get_first("to") or ""
        if ";tag=" not in to:  # out of dialog: a tag that stays the same for retransmissions
            to += ";tag=" + hashlib.sha1((top_branch(request) or to).encode()).hexdigest()[:16]
        resp.headers.set_single("To", to)
        resp.headers.set_single("Call-ID", request.call_id or "")
        resp.headers.set_single("CSeq", request.headers.get_first("cseq") or "")
        detail = refusal.detail.replace('"', "'").replace("\\", "/")
        resp.headers.set_single("Warning", f'399 {format_addr(*self._local())} "{detail}"')
        if self.user_agent:
            resp.headers.set_single("User-Agent", self.user_agent)
        self.transport.send_reply(resp)

    def _local(self) -> tuple[str, int]:
        return self.advertised_addr or tuple(self.transport.local_addr)  # type: ignore[return-value]

    def _release(self, call: MediaCall) -> None:
        """Forget a call we hang up ourselves, as the library does at a BYE (bug 18)."""
        call._stop_retransmissions()
        if self._calls.get(call.call_id) is call:
            del self._calls[call.call_id]
            self._remove_invite_transaction(call.invite)

    def _handle_ack(self, request: SipRequest, addr: tuple[str, int]) -> None:
        call_id = request.call_id or ""
        pending = self._rejected.get(call_id)
        ack_seq = request.cseq.seq if request.cseq is not None else None
        sent = pending.response.cseq if pending is not None else None
        if pending is not None and sent is not None and sent.seq == ack_seq:
            del self._rejected[call_id]
            pending.task.cancel()
            if not pending.in_dialog and self._calls.get(call_id) is pending.call:
                del self._calls[call_id]  # the failed INVITE's call; never a live one (19)
            return
        handle_ack(self, request, addr)

    def _track_rejected(
        self, call: MediaCall, request: SipRequest, resp: SipResponse, *, in_dialog: bool
    ) -> None:
        async def retransmit() -> None:
            interval, elapsed = T1, 0.0
            try:
                while elapsed < TIMER_H:
                    await asyncio.sleep(interval)
                    elapsed += interval
                    self.transport.send_reply(resp)
                    interval = min(interval * 2, T2)
            finally:
                entry = self._rejected.get(call.call_id)
                if entry is not None and entry.response is resp:
                    del self._rejected[call.call_id]
                    if not in_dialog and self._calls.get(call.call_id) is call:
                        del self._calls[call.call_id]  # never ACKed: forget it all the same

        old = self._rejected.pop(call.call_id, None)
        if old is not None:
            old.task.cancel()
        task = asyncio.get_running_loop().create_task(retransmit())
        self._rejected[call.call_id] = _Rejected(call, request, resp, task, in_dialog)

    async def stop(self) -> None:
        for entry in self._rejected.values():
            entry.task.cancel()
        self._rejected.clear()
        await super().stop()


def _make_media_call(uas: MediaUAS, call: IncomingCall) -> MediaCall:
    """Re-class the library's call as ours and give it our fields."""
    call.__class__ = MediaCall
    assert isinstance(call, MediaCall)
    call._uas, call._last_response, call._before_reinvite = uas, None, None
    return call
