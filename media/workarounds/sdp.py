"""SDP offers the media server can use, checked before aiosipua sees them (bugs 16-17 of the
table in ``media.workarounds``).

aiosipua 0.7.1's ``parse_sdp`` converts numeric fields with a bare ``int()``: one
non-numeric ``v=``, ``t=``, ``b=``, ``m=`` port, ``a=rtpmap`` or ``a=fmtp`` raises
ValueError inside ``SipUAS._handle_invite`` before any response (bug 16): a traceback
per retransmission, no answer, and on a re-INVITE the dialog's ``invite`` already
replaced by the bad one. And it takes any ``c=``/``m=`` it can read (bug 17): a port
outside 1..65535 makes aiortp's ``sendto`` raise OverflowError and close the leg's
socket, a hostname is resolved (blocking) for every packet inside the event loop, an
IPv6, multicast or broadcast address fails or warns every 20 ms.

``check_offer`` says what is wrong with an offer before the library parses it, so
``MediaUAS`` refuses it cleanly (400 for a malformed SDP, 488 for unusable media) and
an established call stays as it was. What Kamailio relays is always usable: rtpengine
(``kamailio-media.cfg``, ``replace-session-connection``) writes its own literal IPv4
interface address and a real port; without the relay it is the phone's own offer.
Hold stays possible: ``c=0.0.0.0`` (RFC 2543 hold, and aiosipua's reading of an empty
``c=IN IP4``) with ``a=sendonly``/``inactive`` is accepted as before.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiosipua import SdpMessage, parse_sdp

# 0.0.0.0/8 is "this network": only 0.0.0.0 itself means something in SDP (hold)
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


@dataclass(frozen=True)
class Refusal:
    """Why an offer is refused: the SIP status, its reason phrase and an explanation."""

    status: int
    reason: str
    detail: str


def check_offer(text: str) -> Refusal | None:
    """What is wrong with the SDP offer ``text`` (None: aiosipua may parse it, we can use it).

    An offer without audio is left to the application (it answers 488 itself).
    """
    try:
        sdp = parse_sdp(text)
    except Exception as exc:  # any failure of the library's parser is a malformed offer
        return Refusal(400, "Bad Request", f"malformed SDP ({type(exc).__name__}: {exc})")
    problem = audio_address_problem(sdp)
    if problem is not None:
        return Refusal(488, "Not Acceptable Here", problem)
    return None


def audio_address_problem(sdp: SdpMessage) -> str | None:
    """Why the offer's audio address is unusable, None when it is a literal unicast IPv4
    address (or ``0.0.0.0``, hold) with a port in 1..65535, or there is no audio."""
    audio = sdp.audio
    if audio is None:
        return None
    if not 1 <= audio.port <= 65535:
        return f"audio port {audio.port} is not in 1..65535"
    conn = audio.connection or sdp.connection
    if conn is None:
        return "no connection address (c=) for the audio"
    if conn.net_type.upper() != "IN" or conn.addr_type.upper() != "IP4":
        return f"audio address type {conn.net_type} {conn.addr_type} is not IN IP4"
    try:
        address = ipaddress.IPv4Address(conn.address)
    except ValueError:
        return f"audio address {conn.address!r} is not a literal IPv4 address"
    if address.is_unspecified:
        return None  # hold
    if address in _THIS_NETWORK or address.is_multicast or address.is_reserved:
        return f"audio address {address} is not a unicast address"
    return None
