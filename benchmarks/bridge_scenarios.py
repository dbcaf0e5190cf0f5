"""SIPp scenarios of bridged calls whose SDP names an ``RtpPhone``'s port.

SIPp does the SIP (digest auth through Kamailio, answer, busy, hold
re-INVITEs, BYE); the audio is the phone's (``benchmarks.rtp_phones``).
The messages are ``benchmarks.sipp_scenarios``'s; its docstring lists the
``<log>`` lines these scenarios leave.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import sipp_scenarios as steps
from benchmarks.rtp_phones import RtpPhone

_WAIT_MS = 120_000  # how long a phone waits for the other side's BYE


def sdp(phone: RtpPhone, direction: str = "sendrecv", version: int = 1) -> str:
    """The phone's offer or answer: its RTP port, codec and telephone-event type."""
    return steps.sdp(
        phone.port,
        phone.payload_type,
        phone.dtmf_payload_type,
        direction=direction,
        version=version,
    )


def caller_scenario(
    path: Path,
    phone: RtpPhone,
    *,
    talk_ms: int | None,
    hold_at_ms: int | None = None,
    hold_ms: int = 3000,
    auth: bool = True,
) -> Path:
    """A caller through Kamailio (digest auth unless ``auth`` is off, as for a trusted
    carrier): maybe holds (re-INVITE sendonly, then sendrecv), then hangs up after
    ``talk_ms`` more, or waits for the BYE."""
    text = steps.call_answered(sdp(phone), auth=auth)
    cseq = steps.next_cseq(auth)
    if hold_at_ms is not None:
        for direction, ms in (("sendonly", hold_at_ms), ("sendrecv", hold_ms)):
            text += steps.reinvite(ms, cseq, sdp(phone, direction, version=cseq))
            cseq += 1
    if talk_ms is None:
        text += steps.await_bye(_WAIT_MS)
    else:
        text += steps.hang_up(cseq, after_ms=talk_ms)
    path.write_text(steps.scenario("bridge caller", text))
    return path


def callee_scenario(
    path: Path,
    phone: RtpPhone | None,
    *,
    ring_ms: int = 300,
    busy: bool = False,
    hold_at_ms: int | None = None,
    hold_ms: int = 3000,
    hangup_after_ms: int | None = None,
    on_invite: str = "",
) -> Path:
    """A callee: busy, or answer; then maybe hold/unhold (re-INVITEs); then BYE or wait for it.

    ``on_invite``: more SIPp actions run on the INVITE (e.g. an ``<ereg>`` logging a header).
    """
    text = steps.ringing(on_invite)
    if busy or phone is None:
        path.write_text(steps.scenario("bridge callee", text, steps.busy()))
        return path
    text += steps.answer(ring_ms, sdp(phone))
    cseq = 1
    if hold_at_ms is not None:
        for direction, ms in (("sendonly", hold_at_ms), ("sendrecv", hold_ms)):
            offer = sdp(phone, direction, version=cseq + 1)
            text += steps.callee_request("INVITE", ms, cseq, offer)
            cseq += 1
    if hangup_after_ms is not None:
        text += steps.callee_request("BYE", hangup_after_ms, cseq)
    else:
        text += steps.await_bye(_WAIT_MS)
    path.write_text(steps.scenario("bridge callee", text))
    return path


def ringing_agent_scenario(path: Path) -> Path:
    """A phone that rings until the call is cancelled (a queue agent who does not answer)."""
    path.write_text(steps.scenario("agent who lets it ring", steps.ring_until_cancelled()))
    return path
