"""A call the attendant transfers is recorded by the policy of whom it reaches (issue 13).

101 calls 103, whose rule sends every call to a menu whose key bridges the caller to 102
(``tests/fixtures/bridge_rig.py``: the real media server places the second leg through
Kamailio and rtpengine). The caller's leg follows 101's, 103's and the tenant's policy;
the leg to 102 follows 102's too: 102 "always" and the first leg unrecorded, the second
leg is recorded, both voices in it; the first leg recorded, nothing is recorded twice.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from benchmarks.bridge_scenarios import callee_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone
from kamailio.recording_push import push_recording_policy
from relay.launcher import ng_client
from tests.fixtures.bridge_rig import CALLEE_HZ, CALLER_HZ, BridgeRig
from tests.fixtures.core import Directory
from tests.fixtures.relay import call_metadata, call_pcaps, read_pcap_rtp, wait_for
from tests.fixtures.sip import cdr_rows

pytestmark = [pytest.mark.kamailio, pytest.mark.media]

TENANT = "acme.example"


@pytest.mark.parametrize("tenant_mode", ["never", "always"])
def test_a_transferred_call_follows_the_policy_of_whom_it_reaches(
    rig: BridgeRig, directory: Directory, tmp_path: Path, tenant_mode: str
) -> None:
    s = rig.settings
    directory.store.set_recording_policy(TENANT, "tenant", tenant_mode)
    directory.store.set_recording_policy(TENANT, "user", "always", "102")
    assert push_recording_policy(s)
    with RtpBank() as bank:
        caller = bank.add(RtpPhone(0, CALLER_HZ))
        callee = bank.add(RtpPhone(0, CALLEE_HZ))
        callee_xml = callee_scenario(tmp_path / "102.xml", callee, ring_ms=300,
                                     hangup_after_ms=2500)  # fmt: skip
        result = rig.call(caller, callee_xml, talk_ms=None)
    assert result.returncode == 0, result.errors
    rows = cdr_rows(s, at_least=2)
    first = next(r for r in rows if r["callee"] == "103")
    leg = next(r for r in rows if r["callee"] == "102")
    assert leg["origin_call_id"] == first["call_id"]
    # every capture is closed once rtpengine relays nothing
    ng = ng_client(s)
    wait_for(lambda: not ng.list_calls(), "rtpengine to end both legs")
    captures = sorted((s.recording_spool_dir / "metadata").glob("rtpengine-meta-*"))
    recorded = first if tenant_mode == "always" else leg
    assert len(captures) == 1, [c.name for c in captures]
    metadata = call_metadata(s, recorded["call_id"])
    assert f"call_id:{recorded['call_id']}|caller:101|callee:{recorded['callee']}" in metadata
    outcomes = (first["recording_outcome"], leg["recording_outcome"])
    assert outcomes == (("started", None) if tenant_mode == "always" else (None, "started"))
    # both voices: the caller's (relayed by the media server) and 102's, a second or more each
    [pcap] = call_pcaps(s, recorded["call_id"])
    senders = Counter(p.src for p in read_pcap_rtp(pcap))
    assert len(senders) == 2 and min(senders.values()) > 50, senders
