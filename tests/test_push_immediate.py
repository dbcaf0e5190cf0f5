"""Every provisioning change that affects routing reaches Kamailio at once (issue 9).

Through a real Kamailio: a user added with ``switchboard user add`` a moment
ago is reachable (their default decision: voicemail while no phone is
registered) instead of answering 480 until the scheduler's next pass, and a
main number added with ``did add`` is known (480 "No Route Now", not 404).
The scheduler of the ``kamailio`` fixture has pushed at start-up and then
sleeps for up to a minute, so what happens within a second is the edit's
own push. A fast test checks that every CLI writer takes the one path,
``kamailio.rules_push.push_change``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from cli.main import build_parser
from kamailio import rules_push
from kamailio.launcher import KamailioProcess
from kamailio.rpc import KamailioRPC
from kamailio.traffic import SippUAS, scenario
from switchboard.routing import read_decision
from switchboard.settings import Settings
from tests.fixtures.core import Directory
from tests.fixtures.sip import call, carrier_call, register_at

ACME = "acme.example"
NEW_USER = [
    "user", "add", "--tenant", ACME, "--ext", "150", "--name", "New Hire",
    "--email", "new.hire@acme.example", "--password", "portal-pass-9",
    "--sip-password", Directory.SIP_PASSWORD,
]  # fmt: skip


def _cli(settings: Settings, argv: list[str]) -> int:
    """Run one ``switchboard`` command against these settings (ports, data dir)."""
    args = build_parser().parse_args(argv)
    return int(args.fn(settings, args))


@pytest.mark.kamailio
def test_user_added_with_the_cli_reaches_voicemail_within_a_second(
    kamailio: KamailioProcess, directory: Directory
) -> None:
    s = kamailio.settings
    with SippUAS(scenario("uas_media.xml"), port=s.media_port) as voicemail:
        started = time.monotonic()
        assert _cli(s, NEW_USER) == 0
        added = time.monotonic()
        result = call(s, "101@acme.example", "150@acme.example", duration_ms=200)
        answered = time.monotonic()
        invites = [line for line in voicemail.log_lines() if line.startswith("invite")]
    assert list(result.finals.values()) == [200], result.errors  # was 480 for up to 60 s
    assert invites and invites[0].startswith("invite vm-acme.example-150")
    print(f"user add {added - started:.3f} s; call answered by voicemail {answered - added:.3f} s")
    assert added - started < 1.0

    # and their phone, registered right after, rings and answers
    with SippUAS(scenario("uas_answer.xml")) as phone:
        assert register_at(s, "150@acme.example", phone).returncode == 0
        result = call(s, "101@acme.example", "150@acme.example", duration_ms=200)
    assert list(result.finals.values()) == [200], result.errors


@pytest.mark.kamailio
def test_main_number_added_with_the_cli_is_known_at_once(
    kamailio: KamailioProcess, directory: Directory
) -> None:
    s = kamailio.settings
    assert _cli(s, ["did", "add", "+15550009999", "--tenant", ACME, "--name", "Sales"]) == 0
    with KamailioRPC(s.rpc_url) as rpc:
        held = rpc.call("htable.get", "rules", "did:+15550009999")["item"]["value"]
    assert read_decision(held)["tenant"] == ACME
    # no route yet: the carrier hears "No Route Now", not "No Such Number"
    assert list(carrier_call(s, "+15551234567", "+15550009999").finals.values()) == [480]

    route = ["did", "route", "+15550009999", "Always", "--priority", "1", "--to", "voicemail:100"]
    assert _cli(s, route) == 0
    with SippUAS(scenario("uas_media.xml"), port=s.media_port) as media:
        result = carrier_call(s, "+15551234567", "+15550009999")
        invites = [line for line in media.log_lines() if line.startswith("invite")]
    assert list(result.finals.values()) == [200], result.errors
    assert invites[0].startswith("invite vm-acme.example-100")


def test_every_cli_writer_pushes_what_it_changed(
    settings: Settings, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """user, rule, frame (tenant's and personal), DID and DID route: each pushes its scope."""
    pushed: list[dict[str, Any]] = []

    def record(_settings: Settings, _store: object, **scope: Any) -> bool:
        pushed.append(
            {
                "users": [u.login for u in scope.get("users", ())],
                "dids": [d.number for d in scope.get("dids", ())],
                "tenant": scope.get("tenant"),
            }
        )
        return True

    monkeypatch.setattr(rules_push, "push_change", record)
    commands = [
        (NEW_USER, {"users": ["150@acme.example"], "dids": [], "tenant": None}),
        (["rule", "add", "Desk", "--tenant", ACME, "--ext", "101", "--priority", "1"],
         {"users": ["101@acme.example"], "dids": [], "tenant": None}),
        (["frame", "add", "Lunch", "--tenant", ACME, "--period", "mon-fri@12:00-13:00"],
         {"users": [], "dids": [], "tenant": ACME}),
        (["frame", "add", "Gym", "--tenant", ACME, "--ext", "102", "--period", "sat@09:00-10:00"],
         {"users": ["102@acme.example"], "dids": [], "tenant": None}),
        (["did", "add", "+15550008888", "--tenant", ACME, "--name", "Support"],
         {"users": [], "dids": ["+15550008888"], "tenant": None}),
        (["did", "route", "+15550008888", "Always", "--priority", "1", "--to", "voicemail:100"],
         {"users": [], "dids": ["+15550008888"], "tenant": None}),
    ]  # fmt: skip
    for argv, scope in commands:
        pushed.clear()
        assert _cli(settings, argv) == 0
        assert pushed == [scope], argv
