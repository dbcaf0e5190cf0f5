"""What the tests of calls in raw SIP do inside a call (:mod:`tests.security.sip_phone`):
wait for a reply, send a request of either end as that end's phone builds it, hang up."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.fixtures.core import Directory
from tests.security.raw_sip import digest_authorization, header, headers, status_code
from tests.security.sip_phone import Dialog, SipPhone


def wait_for(predicate: Callable[[], object], timeout: float = 3.0) -> bool:
    """Whether ``predicate`` came true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def reply_to(phone: SipPhone, call_id: str, cseq: int, wait: float = 3.0) -> bytes | None:
    """The final reply ``phone`` got to its request ``cseq`` of the call."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for data in list(phone.received):
            code = status_code(data)
            if (code is not None and code >= 200 and header(data, "Call-ID") == call_id
                    and (header(data, "CSeq") or "").split()[0] == str(cseq)):  # fmt: skip
                return data
        time.sleep(0.02)
    return None


def final_code(phone: SipPhone, call_id: str, cseq: int, wait: float = 3.0) -> int | None:
    data = reply_to(phone, call_id, cseq, wait)
    return status_code(data) if data is not None else None


def signed_in(phone: SipPhone, request: bytes, challenge: bytes, login: str) -> bytes:
    """``request`` again with the next CSeq and ``login``'s answer to ``challenge``."""
    method, ruri = request.decode().split(" ", 2)[:2]
    cseq = int((header(request, "CSeq") or "").split()[0])
    answer = digest_authorization(
        header(challenge, "Proxy-Authenticate") or "", login, Directory.SIP_PASSWORD, method, ruri
    )
    head, _, body = request.partition(b"\r\n\r\n")
    head = head.replace(f"CSeq: {cseq} ".encode(), f"CSeq: {cseq + 1} ".encode())
    head = head.replace(b";branch=z9hG4bK-", b";branch=z9hG4bK-a", 1)  # a new transaction
    return head + f"\r\nProxy-Authorization: {answer}".encode() + b"\r\n\r\n" + body


def challenged_then(phone: SipPhone, request: bytes, call_id: str, login: str) -> int | None:
    """Send ``request``; it must be challenged (407). Then its signed-in copy as ``login``:
    the final code of that."""
    phone.send(request)
    cseq = int((header(request, "CSeq") or "").split()[0])
    challenge = reply_to(phone, call_id, cseq)
    assert challenge is not None and status_code(challenge) == 407
    phone.send(signed_in(phone, request, challenge, login))
    return final_code(phone, call_id, cseq + 1)


def from_caller(caller: SipPhone, dialog: Dialog, call_id: str, method: str, ruri: str,
                cseq: int) -> None:  # fmt: skip
    caller.send(caller.build(
        method, ruri, from_uri=dialog.from_uri, to_uri=dialog.to_uri, call_id=call_id,
        from_tag=dialog.from_tag, to_tag=dialog.to_tag, cseq=cseq, routes=dialog.routes,
    ))  # fmt: skip


def the_invite(bob: SipPhone, call_id: str) -> bytes:
    """The call's INVITE that reached ``bob``: the one it answers, if the call rang it more
    than once (a carrier given two numbers of one simultaneous ring)."""
    invites = bob.requests("INVITE", call_id)
    if len(invites) > 1:
        invites = [invite for invite in invites if bob.answering(invite)]
    [invite] = invites
    return invite


def callee_request(
    phone: SipPhone, bob: SipPhone, call_id: str, method: str, ruri: str, cseq: int
) -> bytes:
    """``method`` as the answering phone ``bob`` builds it from its INVITE, sent by ``phone``
    (``bob`` itself, or where it moved)."""
    invite = the_invite(bob, call_id)
    caller_from = header(invite, "From") or ""
    return phone.build(
        method, ruri, from_uri=(header(invite, "To") or "").strip("<>").split(">")[0],
        call_id=call_id, from_tag=f"uas{bob.port}", cseq=cseq,
        to_uri=caller_from.split("<", 1)[1].split(">", 1)[0],
        to_tag=caller_from.partition(";tag=")[2].split(";")[0],
        routes=tuple(headers(invite, "Record-Route")),
    )  # fmt: skip


def from_callee(bob: SipPhone, call_id: str, method: str, ruri: str, cseq: int) -> None:
    """``method`` from the answering phone's side, as a phone builds it from the INVITE."""
    bob.send(callee_request(bob, bob, call_id, method, ruri, cseq))


def hang_up(caller: SipPhone, dialog: Dialog, call_id: str, callee: SipPhone, cseq: int) -> None:
    """The caller's BYE to where ``callee`` is: answered, and it reached ``callee``."""
    from_caller(caller, dialog, call_id, "BYE", f"sip:phone@{callee.host}:{callee.port}", cseq)
    assert final_code(caller, call_id, cseq) == 200
    assert callee.requests("BYE", call_id)


def caller_contact(bob: SipPhone, call_id: str) -> str:
    """The caller's Contact as the answering phone got it (with Kamailio's NAT alias)."""
    return (header(the_invite(bob, call_id), "Contact") or "").strip("<>").split(">")[0]
