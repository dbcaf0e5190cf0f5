"""The SIP messages of every SIPp scenario generated in Python, written once.

Benchmarks and tests compose scenarios from these steps (callers:
``benchmarks.sipp_callers``, bridged phones: ``benchmarks.bridge_scenarios``)
instead of each carrying its own copy of an INVITE, an ACK or a BYE. A
caller's CSV row is ``caller, caller domain, -, callee, callee host, display
name`` (``[field0]`` … ``[field5]``), as ``kamailio.traffic.run_sipp`` writes
it. Outcomes are SIPp ``<log>`` lines: ``answered``, ``bye_ok``,
``server_bye``, ``invite <call-id> <From> to <To>``, ``acked``,
``busy_acked``, ``cancelled`` and ``<METHOD>-ok <cseq>`` /
``reinvite-ok <cseq>`` for in-dialog requests.
"""

from __future__ import annotations

from string import Template

CODECS = {0: "PCMU", 8: "PCMA", 9: "G722"}  # rtpmap names (G.722's RTP clock: 8000, RFC 3551)

# The caller's From and Contact, the same in every request it sends.
_FROM = 'From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]'
_CONTACT = "Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>"
_CALLEE_CONTACT = "Contact: <sip:[local_ip]:[local_port];transport=[transport]>"
_VIA = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"

_SDP = Template("""      v=0
      o=phone 1 $version IN IP4 $address
      s=-
      c=IN IP4 $address
      t=0 0
      m=audio $port RTP/AVP $pt $dtmf
      a=rtpmap:$pt $codec/8000
      a=rtpmap:$dtmf telephone-event/8000
      a=fmtp:$dtmf 0-15
      a=$direction
""")


def sdp(
    port: int | str,
    payload_type: int,
    dtmf_payload_type: int,
    *,
    address: str = "127.0.0.1",
    direction: str = "sendrecv",
    version: int = 1,
) -> str:
    """An audio offer or answer (G.711 + telephone-event); ``[media_port]`` lets SIPp fill it."""
    return _SDP.substitute(
        port=port,
        pt=payload_type,
        codec=CODECS[payload_type],
        dtmf=dtmf_payload_type,
        address=address,
        direction=direction,
        version=version,
    )


def scenario(name: str, *steps: str) -> str:
    """A whole SIPp scenario file of ``steps``."""
    body = "".join(step if step.endswith("\n") else step + "\n" for step in steps)
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        '<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
        f'<scenario name="{name}">\n{body}</scenario>\n'
    )


def _send(lines: list[str], *, retrans: bool = False, body: str = "") -> str:
    head = '  <send retrans="500">' if retrans else "  <send>"
    text = "".join(f"      {line}\n" for line in lines)
    tail = body + "\n" if body else ""
    return f"{head}\n    <![CDATA[\n\n{text}\n{tail}    ]]>\n  </send>\n"


def _with_body(lines: list[str], body: str | None) -> tuple[list[str], str]:
    if body is None:
        return [*lines, "Content-Length: 0"], ""
    return [*lines, "Content-Type: application/sdp", "Content-Length: [len]"], body


# --- a caller ----------------------------------------------------------------------------------


def invite(cseq: int, offer: str, *, headers: tuple[str, ...] = ()) -> str:
    """The caller's INVITE to ``[field3]@[field4]`` (``headers``: e.g. ``[authentication]``)."""
    lines = [
        "INVITE sip:[field3]@[field4] SIP/2.0",
        _VIA,
        _FROM,
        "To: <sip:[field3]@[field4]>",
        "Call-ID: [call_id]",
        f"CSeq: {cseq} INVITE",
        _CONTACT,
        *headers,
        "Max-Forwards: 70",
    ]
    lines, body = _with_body(lines, offer)
    return _send(lines, retrans=True, body=body)


def _caller_request(method: str, cseq: int, offer: str | None = None) -> str:
    """An in-dialog request of the caller (ACK, BYE, re-INVITE) along the recorded route."""
    lines = [f"{method} [next_url] SIP/2.0", _VIA, "[routes]", _FROM, "[last_To:]"]
    lines += ["Call-ID: [call_id]", f"CSeq: {cseq} {method}"]
    lines += [_CONTACT] if method == "INVITE" else []
    lines, body = _with_body([*lines, "Max-Forwards: 70"], offer)
    return _send(lines, retrans=method != "ACK", body=body)


def call_answered(
    offer: str,
    *,
    auth: bool,
    headers: tuple[str, ...] = (),
    ringing_optional: str = "true",
) -> str:
    """Place the call (answering Kamailio's 407 with ``auth``), wait for the 200 and ACK it.

    The in-dialog CSeq that follows is :func:`next_cseq` ``(auth)``.
    """
    cseq = 2 if auth else 1
    steps = invite(1, offer, headers=headers)
    steps += '  <recv response="100" optional="true"/>\n'
    if auth:
        challenge_ack = [
            "ACK sip:[field3]@[field4] SIP/2.0",
            "[last_Via:]",
            _FROM,
            "[last_To:]",
            "Call-ID: [call_id]",
            "CSeq: 1 ACK",
            "Max-Forwards: 70",
            "Content-Length: 0",
        ]
        steps += '  <recv response="407" auth="true"/>\n' + _send(challenge_ack)
        steps += invite(cseq, offer, headers=("[authentication]", *headers))
        steps += '  <recv response="100" optional="true"/>\n'
    steps += f'  <recv response="180" optional="{ringing_optional}"/>\n'
    steps += f'  <recv response="183" optional="{ringing_optional}"/>\n'
    steps += '  <recv response="200" rrs="true">\n'
    steps += '    <action><log message="answered [call_id]"/></action>\n  </recv>\n'
    return steps + _caller_request("ACK", cseq)


def next_cseq(auth: bool) -> int:
    """The CSeq of the caller's first in-dialog request after :func:`call_answered`."""
    return 3 if auth else 2


def reinvite(ms: int, cseq: int, offer: str) -> str:
    """After ``ms``, the caller re-INVITEs with ``offer`` (hold, unhold) and ACKs the 200."""
    return (
        pause(ms)
        + _caller_request("INVITE", cseq, offer)
        + '  <recv response="100" optional="true"/>\n'
        + f'  <recv response="200"><action><log message="reinvite-ok {cseq} [call_id]"/>'
        + "</action></recv>\n"
        + _caller_request("ACK", cseq)
    )


def hang_up(cseq: int, *, after_ms: int | None = None) -> str:
    """The caller's BYE (after ``after_ms``) and its 200."""
    return (
        ("" if after_ms is None else pause(after_ms))
        + _caller_request("BYE", cseq)
        + '  <recv response="200" crlf="true"><action><log message="bye_ok [call_id]"/>'
        + "</action></recv>\n"
    )


def await_bye(timeout_ms: int | None, actions: str = "") -> str:
    """Wait up to ``timeout_ms`` (None: as long as it takes) for the other side's BYE (running
    ``actions`` on it, e.g. an ``<ereg>`` logging a header) and answer it (either side)."""
    timeout = "" if timeout_ms is None else f' timeout="{timeout_ms}"'
    return (
        f'  <recv request="BYE"{timeout}>\n'
        f'    <action>{actions}<log message="server_bye [call_id]"/></action>\n  </recv>\n'
        + bye_ok()
    )


def bye_ok() -> str:
    """The 200 to the BYE just received (either side)."""
    ok = ["SIP/2.0 200 OK", "[last_Via:]", "[last_From:]", "[last_To:]", "[last_Call-ID:]"]
    return _send([*ok, "[last_CSeq:]", "Content-Length: 0"])


def play_pcap(pcap: str, then_ms: int | None = None) -> str:
    """Start SIPp's RTP replay of ``pcap``, then pause ``then_ms`` if given (the replay runs on)."""
    start = f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
    return start if then_ms is None else start + pause(then_ms)


def pause(ms: int | None = None) -> str:
    """Wait ``ms``; None: the call's duration (``run_sipp``'s ``duration_ms``, SIPp's ``-d``)."""
    return "  <pause/>\n" if ms is None else f'  <pause milliseconds="{ms}"/>\n'


# --- a callee ----------------------------------------------------------------------------------


def respond(status: str, *, body: str | None = None, dialog: bool = True) -> str:
    """The callee's reply to the last request (``dialog``: with the route and a Contact)."""
    lines = [f"SIP/2.0 {status}", "[last_Via:]", "[last_From:]"]
    lines += ["[last_To:];tag=[pid]SIPpTag01[call_number]", "[last_Call-ID:]", "[last_CSeq:]"]
    lines += ["[last_Record-Route:]", _CALLEE_CONTACT] if dialog else []
    lines, text = _with_body(lines, body)
    return _send(lines, retrans=status.startswith("200") and body is not None, body=text)


def receive(request: str, log: str | None = None) -> str:
    """Wait for the other side's ``request`` (INVITE, ACK…), logging ``<log> [call_id]``."""
    if log is None:
        return f'  <recv request="{request}" crlf="true"/>\n'
    action = f'<action><log message="{log} [call_id]"/></action>'
    return f'  <recv request="{request}" crlf="true">{action}</recv>\n'


def ringing(actions: str = "") -> str:
    """Receive the INVITE (logging who calls whom, plus ``actions``) and answer 180."""
    return (
        '  <recv request="INVITE" crlf="true" rrs="true">\n    <action>\n'
        '      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="their"/>\n'
        '      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="ours"/>\n'
        f"{actions}"
        '      <log message="invite [call_id] [$their] to [$ours]"/>\n'
        "    </action>\n  </recv>\n" + respond("180 Ringing")
    )


def answer(ring_ms: int, offer: str) -> str:
    """After ``ring_ms``, answer 200 with ``offer`` and wait for the ACK."""
    return pause(ring_ms) + respond("200 OK", body=offer) + receive("ACK", "acked")


def busy() -> str:
    """Answer 486 and wait for the ACK."""
    return respond("486 Busy Here", dialog=False) + receive("ACK", "busy_acked")


def ring_until_cancelled() -> str:
    """Let it ring until the CANCEL: 200 to the CANCEL, 487 to the INVITE."""
    terminated = ["SIP/2.0 487 Request Terminated", "[last_Via:]", "[last_From:]"]
    terminated += ["[last_To:];tag=[pid]SIPpTag01[call_number]", "[last_Call-ID:]"]
    return (
        '  <recv request="INVITE" crlf="true">\n    <action>\n'
        '      <ereg regexp="([0-9]+)" search_in="hdr" header="CSeq:" assign_to="all,cseq"/>\n'
        '      <log message="invite [call_id]"/>\n    </action>\n  </recv>\n'
        + respond("180 Ringing")
        + '  <recv request="CANCEL"><action><log message="cancelled [call_id]"/></action></recv>\n'
        + respond("200 OK", dialog=False)
        + _send([*terminated, "CSeq: [$cseq] INVITE", "Content-Length: 0"])
        + '  <recv request="ACK" optional="true" timeout="2000"/>\n'
        + '  <Reference variables="all"/>\n'  # SIPp refuses a variable set and never read
    )


def callee_request(method: str, ms: int, cseq: int, offer: str | None = None) -> str:
    """After ``ms``, the callee's own in-dialog request (re-INVITE + ACK, or BYE)."""
    lines = [f"{method} [next_url] SIP/2.0", _VIA, "[routes]"]
    lines += ["From: [$ours];tag=[pid]SIPpTag01[call_number]", "To: [$their]"]
    lines += ["Call-ID: [call_id]", f"CSeq: {cseq} {method}", _CALLEE_CONTACT, "Max-Forwards: 70"]
    lines, body = _with_body(lines, offer)
    steps = pause(ms) + _send(lines, retrans=True, body=body)
    steps += '  <recv response="100" optional="true"/>\n'
    steps += f'  <recv response="200"><action><log message="{method}-ok {cseq} [call_id]"/>'
    steps += "</action></recv>\n"
    if method == "INVITE":
        ack = ["ACK [next_url] SIP/2.0", _VIA, "[routes]"]
        ack += ["From: [$ours];tag=[pid]SIPpTag01[call_number]", "To: [$their]"]
        ack += ["Call-ID: [call_id]", f"CSeq: {cseq} ACK", "Max-Forwards: 70", "Content-Length: 0"]
        steps += _send(ack)
    return steps
