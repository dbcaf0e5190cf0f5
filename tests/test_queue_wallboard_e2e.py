"""The wallboard in headless Chromium while a real caller waits in a real queue.

The call center of ``tests.fixtures.call_center`` (Kamailio, the media server,
the carrier on the trunk port) and the portal as a subprocess on the same
data dir. The carrier's caller waits (no agent logged in) until the board
shows them; then 101 logs in, their SIPp phone answers, and the board shows
101 on the call. Each delay is measured from the queue's own event (``enter``,
``connect``, stamped by the media server) to the moment the page shows it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from benchmarks.rtp_phones import RtpBank, RtpPhone
from kamailio.traffic import SippUAS
from switchboard.settings import Settings
from tests.fixtures.call_center import ACME, CallCenter, agent_scenario
from tests.fixtures.core import Directory
from tests.fixtures.portal import PortalServer, log_in, start_portal, stop_portal

pytestmark = [pytest.mark.kamailio, pytest.mark.media, pytest.mark.browser]


@pytest.fixture
def starting_portal(
    settings: Settings, directory: Directory
) -> Iterator[Callable[[], PortalServer]]:
    """The portal starting in a thread while Kamailio and the media server start (seconds saved)."""
    started: list[PortalServer | BaseException] = []

    def start() -> None:
        try:
            started.append(start_portal(settings))
        except BaseException as exc:  # handed to the test
            started.append(exc)

    thread = threading.Thread(target=start, daemon=True)
    thread.start()

    def ready() -> PortalServer:
        thread.join(60)
        if isinstance(started[0], BaseException):
            raise started[0]
        return started[0]

    yield ready
    thread.join(60)
    if started and isinstance(started[0], PortalServer):
        stop_portal(started[0])


def test_the_board_follows_a_real_caller_and_the_agent_who_answers(
    starting_portal: Callable[[], PortalServer], center: CallCenter, page: Any, tmp_path: Path
) -> None:
    store = center.store
    store.set_agent_login(ACME, "101", False)
    store.set_agent_login(ACME, "102", False)
    portal = starting_portal()
    log_in(page, portal.url, f"100@{ACME}")
    page.goto(portal.url + "/wallboard")
    board = f"#wallboard-q{center.queue.id}"
    waiting = page.locator(f"{board}-waiting")
    expect(waiting).to_have_text("0", timeout=30_000)
    with RtpBank() as bank:
        phone = bank.add(RtpPhone(0, 1400.0))
        uas = {"101": SippUAS(agent_scenario(tmp_path / "101.xml", phone, hangup_after_ms=3000))}
        try:
            center.register(uas)
            done = center.call_in_background(bank.add(RtpPhone(0, 600.0)), name="board")
            expect(waiting).to_have_text("1", timeout=15_000)
            caller_shown = time.time()
            store.set_agent_login(ACME, "101", True)  # the agent bar's "log in"
            on_call = page.locator(f"{board}-agents-on_call")
            expect(on_call).to_contain_text("on call 1", timeout=15_000)
            answer_shown = time.time()
            assert done().returncode == 0
        finally:
            uas["101"].stop()
    events = {e["kind"]: e for e in center.ended(1)}
    shown = (caller_shown - events["enter"]["at"], answer_shown - events["connect"]["at"])
    print(f"wallboard, real queue: caller shown after {shown[0]:.2f} s, answer {shown[1]:.2f} s")
    assert events["connect"]["agent"] == "101"
    assert 0 < shown[0] < 2.0 and 0 < shown[1] < 2.0, shown
