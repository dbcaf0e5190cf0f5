"""Two media workers behind Kamailio's dispatcher (setting ``media_workers``), bridging calls.

Kamailio spreads new calls for the media server over its workers (round
robin, dispatcher set 1 rendered from the settings); in-dialog requests
follow the worker that answered (its Contact, Kamailio's Record-Route); each
worker's own SIP port may place bridge legs (route FROM_MEDIA). Four calls:
each worker bridges two, every caller hears 102 and every call ends cleanly.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bridge_scenarios import callee_scenario
from benchmarks.rtp_phones import RtpBank, RtpPhone
from kamailio.launcher import KamailioProcess
from kamailio.rules_push import RulesClock
from media.bridge import BridgeOutcome
from media.mailbox import StoreMailboxes
from switchboard.settings import Settings
from tests.fixtures.bridge_rig import (
    CALLEE_HZ,
    BridgeRig,
    extension_key,
    route_103_to_the_menu,
    sequence,
)
from tests.fixtures.core import Directory, free_port, make_settings
from tests.fixtures.media import MediaServerThread

pytestmark = [pytest.mark.kamailio, pytest.mark.media]


def _free_pair() -> int:
    """A port whose successor is free too (UDP and TCP): two consecutive workers."""
    while True:
        port = free_port()
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Two media workers on consecutive ports (overrides the core fixture for Kamailio)."""
    return dataclasses.replace(
        make_settings(tmp_path / "data"), media_port=_free_pair(), media_workers=2
    )


@pytest.fixture
def workers(
    kamailio: KamailioProcess, directory: Directory, rules_clock: RulesClock
) -> Iterator[list[tuple[MediaServerThread, list[BridgeOutcome]]]]:
    s = dataclasses.replace(kamailio.settings, rtp_timeout_seconds=2.0)
    route_103_to_the_menu(s, directory, rules_clock)
    started = []
    try:
        for worker in range(2):
            own = dataclasses.replace(s, media_port=s.media_port + worker)
            outcomes: list[BridgeOutcome] = []
            app = extension_key(own, outcomes, {"target": "102"})
            mailboxes = StoreMailboxes(directory.store, own.data_dir, own.spool_dir)
            server = MediaServerThread(own, mailboxes=mailboxes, applications={"aa-": app})
            started.append((server.start(), outcomes))
        yield started
    finally:
        for server, _ in started:
            server.stop()


def test_calls_spread_over_two_workers_and_each_bridges_its_own(
    kamailio: KamailioProcess,
    workers: list[tuple[MediaServerThread, list[BridgeOutcome]]],
    tmp_path: Path,
) -> None:
    s = kamailio.settings
    heard = []
    for n in range(4):
        work = tmp_path / f"call{n}"
        work.mkdir()
        rig = BridgeRig(s, workers[0][0], [], {}, work)
        with RtpBank() as bank:
            caller = bank.add(RtpPhone(0, 600.0))
            callee = bank.add(RtpPhone(0, CALLEE_HZ))
            xml = callee_scenario(work / "callee.xml", callee, ring_ms=200, hangup_after_ms=1500)
            result = rig.call(caller, xml, talk_ms=None)
        assert result.returncode == 0, result.errors
        heard.append(sequence(caller.stream))
    assert all("callee" in h for h in heard), heard
    per_worker = [[o.result for o in outcomes] for _, outcomes in workers]
    assert per_worker == [["answered"] * 2, ["answered"] * 2], per_worker
    assert all(o.ended_by == "callee" for _, outcomes in workers for o in outcomes)
