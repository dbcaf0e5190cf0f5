"""Every workaround for aiosipua 0.7.1 and aiortp 0.8.0, in one place.

The versions are pinned; each fix below is a subclass or a function (never a
patch of the library's modules at import time), in ``media.workarounds.sip``
(the UAS), ``media.workarounds.uac`` (the UAC), ``media.workarounds.sdp`` (offers)
or ``media.workarounds.rtp`` (RTP), and each has a test in
``tests/test_media_workarounds.py`` (bugs 7-12: ``tests/test_media_bridge_workarounds.py``;
13-14: ``tests/test_media_bridge_forks.py``; 16-20: ``tests/test_media_hostile_sip.py``,
end to end through Kamailio: a caller's SIP answer, BYE or RTP) that shows the bug on the
unpatched class and its absence on ours. When the libraries are upgraded,
run those tests: the ones whose "bug still there" half fails mark a
workaround to delete.

=====  ==========================================================  ===========================
 #     Bug (reproduced on this machine)                             Fix here
=====  ==========================================================  ===========================
 1     aiosipua UDP protocol asserts ``isinstance(transport,        ``UdpTransport``
       asyncio.DatagramTransport)``; Python 3.11's selector
       transport is not one, so every start logs an
       AssertionError from ``connection_made``
 2     aiortp PCMA inverts the sign bit (G.711 A-law: bit 7 set     ``PcmaCodec``
       means *positive*); PCMU is right
 3     the SDP answer always names telephone-event 101, whatever   ``negotiate_answer``
       the offer said: a caller offering 96 sends digits that
       are decoded as audio noise
 4     a retransmitted INVITE creates a new call (new To-tag)       ``MediaUAS``
       that replaces the live one: the ACK no longer matches,
       the 200 is retransmitted until 64*T1, the call dies
 5     Record-Route is not copied into 18x/2xx, so the caller's     ``MediaCall``
       ACK/BYE skip Kamailio (no dialog end, no CDR)
 6     non-2xx finals are sent once, never retransmitted           ``MediaCall.reject``
 7     the UAC keeps the To-URI as remote target and no route set   ``MediaUAC``
       after the 2xx: the ACK and BYE of an outgoing call go to
       the R-URI without Route, so Kamailio (loose_route) cannot
       relay them to the callee
 8     the UAC never ACKs a non-2xx final (RFC 3261 §17.1.1.3):    ``MediaUAC``
       the proxy retransmits its 486 for 32 s
 9     the UAC never retransmits its INVITE (Timer A): one lost     ``MediaUAC``
       datagram and the call is never placed
 10    a re-INVITE on an outgoing call's dialog is handed over as   ``MediaUAS``
       a fresh ``IncomingCall`` each time: a retransmitted
       re-INVITE fails the CSeq check (500) instead of getting the
       same answer again
 11    BYE (any in-dialog non-INVITE) is sent once, never          ``MediaUAC.send_reliably``,
       retransmitted (Timer E): one lost datagram and the other    ``MediaCall.hangup``
       leg stays up (seen with 100 bridged calls on a busy box)
 12    each retransmitted 2xx is ACKed with a new branch: a phone   ``MediaUAC``
       sees a second, unexpected ACK (SIPp aborts the call); the
       same ACK is sent again instead
 13    the dialog's To-tag is the first 18x's, never the 2xx's:     ``MediaUAC``
       when one fork rings and another answers, ACK and BYE name
       the fork that rang (the one that answered never gets them)
 14    a second fork's 2xx (another device answered at once) is     ``MediaUAC``
       ACKed with the first dialog's To-tag and route: that phone
       never gets its ACK nor a BYE and stays in a dead call; ours
       ACKs and BYEs it in its own dialog (RFC 3261 §13.2.2.4)
 15    G.722's RTP timestamps step by 320 per 20 ms (the codec's   ``fix_g722_session``
       samples); RFC 3551 clocks G.722 at 8,000 Hz (160), as
       phones do; its loss concealment steps back by 320 too
 16    ``parse_sdp`` raises ValueError on any non-numeric field     ``check_offer``,
       (``m=audio abc``, ``a=rtpmap:zz``, ``b=AS:x``, ``t=x y``):   ``MediaUAS``
       no answer (the phone gets 408), a traceback per
       retransmission, a re-INVITE's ``invite`` already replaced;
       ours answers 400 (with a Warning) and keeps the call as it was
 17    any ``c=``/``m=`` is taken: port 0 / 70000 / -5 (sendto      ``check_offer``,
       OverflowError closes the leg's socket), a hostname (a        ``MediaUAS``
       blocking DNS lookup per packet), IPv6, multicast,
       broadcast; ours answers 488 unless the audio is a literal
       unicast IPv4 address (or 0.0.0.0: hold) and a port 1..65535
       (rtpengine always writes one)
 18    ``IncomingCall.hangup`` never removes the call from the      ``MediaCall.hangup``
       UAS's table (only a BYE received, a missing ACK or session
       expiry do): every call we hang up (RTP timeout, attendant,
       voicemail limit) stays in memory; a rejected INVITE never
       ACKed stayed too
 19    ``reject`` of a re-INVITE terminates the established dialog  ``MediaCall.reject``,
       (and the ACK of that 488 dropped the live call): the         ``MediaUAS``
       caller's BYE got 481 and the media ran on; ours answers
       488 and leaves the call (and its ``invite``/offer) as it was
 20    symmetric RTP re-latches on every packet from any source:   ``RtpLatch``
       one datagram from a stranger to a leg's port redirects the
       call's audio to it; ours latches once, to the first RTP
       source (again after a re-INVITE's new address), on a
       caller's leg and on a leg we place (a bridge's callee)
 --    the jitter buffer holds its prefetch (~80 ms) and the        ``drain_jitter_buffer``
       frame in progress; nothing flushes them at BYE
 --    no RTP inactivity timeout                                   ``RtpWatchdog``
=====  ==========================================================  ===========================
"""

from media.workarounds.rtp import (
    CODECS,
    G711,
    HD_VOICE,
    PcmaCodec,
    RtpLatch,
    RtpWatchdog,
    codec_for,
    drain_jitter_buffer,
    fix_g722_session,
    negotiate_answer,
    offered_dtmf_payload_type,
    payload_type_of,
)
from media.workarounds.sdp import check_offer
from media.workarounds.sip import MediaCall, MediaUAS, UdpTransport
from media.workarounds.uac import MediaUAC

__all__ = [
    "CODECS",
    "G711",
    "HD_VOICE",
    "MediaCall",
    "MediaUAC",
    "MediaUAS",
    "PcmaCodec",
    "RtpLatch",
    "RtpWatchdog",
    "UdpTransport",
    "check_offer",
    "codec_for",
    "drain_jitter_buffer",
    "fix_g722_session",
    "negotiate_answer",
    "offered_dtmf_payload_type",
    "payload_type_of",
]
