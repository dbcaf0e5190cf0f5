"""The UAC-side workarounds for aiosipua 0.7.1 (bugs 7-9 and 11-14 of the table in
``media.workarounds``): the calls the media server places through Kamailio, their ACKs,
BYEs and forks. Split from ``media.workarounds.sip`` (the UAS) by concern.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosipua import OutgoingCall, SdpMessage, SipRequest, SipResponse, SipUAC
from aiosipua.dialog import Dialog, DialogState
from aiosipua.headers import Via, stringify_uri, stringify_via
from aiosipua.transaction import T1, T2, TIMER_H
from aiosipua.utils import format_addr, generate_branch, generate_call_id, generate_tag

log = logging.getLogger(__name__)


def top_branch(request: SipRequest | SipResponse) -> str | None:
    """The branch of the top Via (what names a transaction, RFC 3261 §17.2.3)."""
    vias = request.via
    return vias[0].branch if vias else None


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
        branch = top_branch(request)
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
            resending = self._timer_e.pop(top_branch(response) or "", None)
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
