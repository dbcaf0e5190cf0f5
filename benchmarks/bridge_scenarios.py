"""SIPp scenarios of bridged calls whose SDP names an ``RtpPhone``'s port.

SIPp does the SIP (digest auth through Kamailio, answer, busy, hold
re-INVITEs, BYE); the audio is the phone's (``benchmarks.rtp_phones``).
Outcomes are SIPp ``<log>`` lines: ``answered``, ``server_bye``, ``bye_ok``,
``invite <call-id> <From> to <To>``, ``acked``, ``busy_acked``,
``INVITE-ok <cseq>`` / ``BYE-ok <cseq>`` for the callee's own requests.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from benchmarks.rtp_phones import RtpPhone

_SDP = """      v=0
      o=phone 1 $version IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio $port RTP/AVP $pt $dtmf
      a=rtpmap:$pt $codec/8000
      a=rtpmap:$dtmf telephone-event/8000
      a=fmtp:$dtmf 0-15
      a=$direction
"""

_CALLER = Template("""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="bridge caller">
  <send retrans="500">
    <![CDATA[

      INVITE sip:[field3]@[field4] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field3]@[field4]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

$sdp
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send>
    <![CDATA[

      ACK sip:[field3]@[field4] SIP/2.0
      [last_Via:]
      From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <send retrans="500">
    <![CDATA[

      INVITE sip:[field3]@[field4] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field3]@[field4]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      [authentication]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

$sdp
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true">
    <action><log message="answered [call_id]"/></action>
  </recv>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
$ending
</scenario>
""")

_CALLER_BYE = Template("""  <pause milliseconds="$ms"/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: $cseq BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"><action><log message="bye_ok [call_id]"/></action></recv>
""")

_WAIT_BYE = Template("""  <recv request="BYE" timeout="$ms">
    <action><log message="server_bye [call_id]"/></action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
""")

_CALLEE = Template("""<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="bridge callee">
  <recv request="INVITE" crlf="true" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="their"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="ours"/>
      <log message="invite [call_id] [$$their] to [$$ours]"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
$answer
</scenario>
""")

_ANSWER = Template("""  <pause milliseconds="$ring_ms"/>
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

$sdp
    ]]>
  </send>
  <recv request="ACK" crlf="true"><action><log message="acked [call_id]"/></action></recv>
""")

_BUSY = """  <send>
    <![CDATA[

      SIP/2.0 486 Busy Here
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" crlf="true"><action><log message="busy_acked [call_id]"/></action></recv>
"""

_CALLEE_REQUEST = Template("""  <pause milliseconds="$ms"/>
  <send retrans="500">
    <![CDATA[

      $method [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: [$$ours];tag=[pid]SIPpTag01[call_number]
      To: [$$their]
      Call-ID: [call_id]
      CSeq: $cseq $method
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
$body
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"><action><log message="$method-ok $cseq [call_id]"/></action></recv>
$ack""")

_CALLEE_ACK = Template("""  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: [$$ours];tag=[pid]SIPpTag01[call_number]
      To: [$$their]
      Call-ID: [call_id]
      CSeq: $cseq ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
""")

_CODEC = {0: "PCMU", 8: "PCMA"}


def sdp(phone: RtpPhone, direction: str = "sendrecv", version: int = 1) -> str:
    return Template(_SDP).substitute(
        port=phone.port,
        pt=phone.payload_type,
        codec=_CODEC[phone.payload_type],
        dtmf=phone.dtmf_payload_type,
        direction=direction,
        version=version,
    )


_CALLER_REINVITE = Template("""  <pause milliseconds="$ms"/>
  <send retrans="500">
    <![CDATA[

      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: $cseq INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

$sdp
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200"><action><log message="reinvite-ok $cseq [call_id]"/></action></recv>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "[field5]" <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: $cseq ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
""")


def caller_scenario(
    path: Path,
    phone: RtpPhone,
    *,
    talk_ms: int | None,
    hold_at_ms: int | None = None,
    hold_ms: int = 3000,
) -> Path:
    """A caller through Kamailio (digest auth): maybe holds (re-INVITE sendonly, then
    sendrecv), then hangs up after ``talk_ms`` more, or waits for the BYE."""
    steps, cseq = "", 3
    if hold_at_ms is not None:
        for direction, ms in (("sendonly", hold_at_ms), ("sendrecv", hold_ms)):
            offer = sdp(phone, direction, version=cseq)
            steps += _CALLER_REINVITE.substitute(ms=ms, cseq=cseq, sdp=offer)
            cseq += 1
    if talk_ms is None:
        steps += _WAIT_BYE.substitute(ms=120_000)
    else:
        steps += _CALLER_BYE.substitute(ms=talk_ms, cseq=cseq)
    path.write_text(_CALLER.substitute(sdp=sdp(phone), ending=steps))
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
) -> Path:
    """A callee: busy, or answer; then maybe hold/unhold (re-INVITEs); then BYE or wait for it."""
    if busy or phone is None:
        path.write_text(_CALLEE.substitute(answer=_BUSY))
        return path
    steps = _ANSWER.substitute(ring_ms=ring_ms, sdp=sdp(phone))
    cseq = 1
    if hold_at_ms is not None:
        for direction, ms in (("sendonly", hold_at_ms), ("sendrecv", hold_ms)):
            body = "      Content-Type: application/sdp\n      Content-Length: [len]\n\n" + sdp(
                phone, direction, version=cseq + 1
            )
            steps += _CALLEE_REQUEST.substitute(
                ms=ms, method="INVITE", cseq=cseq, body=body,
                ack=_CALLEE_ACK.substitute(cseq=cseq),
            )  # fmt: skip
            cseq += 1
    if hangup_after_ms is not None:
        steps += _CALLEE_REQUEST.substitute(
            ms=hangup_after_ms, method="BYE", cseq=cseq, body="      Content-Length: 0\n", ack=""
        )
    else:
        steps += _WAIT_BYE.substitute(ms=120_000)
    path.write_text(_CALLEE.substitute(answer=steps))
    return path
