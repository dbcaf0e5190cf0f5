"""Time frames, rules and the simulator from the command line (Kamailio not running)."""

from datetime import date, time

import pytest

from cli import main as cli
from cli.routing import parse_days, parse_destination, parse_period
from switchboard.rules import Destination
from switchboard.settings import Settings
from switchboard.store import ProvisioningError
from switchboard.timeframes import DatePeriod, WeeklyPeriod


def test_text_forms() -> None:
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert parse_period("sat,sun@10:00-14:00") == WeeklyPeriod(
        frozenset({5, 6}), time(10), time(14)
    )
    assert parse_period("2026-12-24..2026-12-26") == DatePeriod(
        date(2026, 12, 24), date(2026, 12, 26)
    )
    assert parse_destination("extension:102") == Destination("extension", "102")
    with pytest.raises(ProvisioningError, match="days are mon"):
        parse_days("monday")
    with pytest.raises(ProvisioningError, match="say which extension"):
        parse_destination("extension")
    with pytest.raises(ProvisioningError, match="destinations are"):
        parse_destination("pager:1")


def test_manager_sets_hours_and_asks_where_calls_go(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", "seed"]) == 0
    sb = ["--tenant", "acme.example"]
    # the demo seeds Open Hours (mon-fri 09:00-17:00) and Holidays (2026-12-24..26)
    assert cli.main(["frame", "add", "Open Hours", *sb, "--period", "mon-fri@09:00-17:00"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["frame", "add", "Lunch", *sb, "--period", "mon-fri@12:00-13:00"]) == 0
    rule = ["rule", "add", *sb, "--ext", "101"]
    assert cli.main([*rule, "Holiday", "--priority", "1", "--frame", "Holidays", "--dnd"]) == 0
    office = ["Office", "--priority", "2", "--frame", "Open Hours", "--ring", "15"]
    assert cli.main([*rule, *office, "--forward-busy", "extension:103"]) == 0
    capsys.readouterr()

    assert cli.main([*rule, "Bad", "--priority", "3", "--forward-busy", "extension:999"]) == 2
    assert "extension 999 does not exist" in capsys.readouterr().err

    explain = ["route", "explain", *sb, "--to", "101", "--from", "+15551234567"]
    assert cli.main([*explain, "--at", "2026-12-25T10:00"]) == 0
    out = capsys.readouterr().out
    assert "rule 'Holiday' (time frame Holidays) until Sun 27 Dec 2026 00:00 EST" in out
    assert out.strip().endswith("=> voicemail")
    assert cli.main([*explain, "--at", "2026-12-22T10:00"]) == 0
    out = capsys.readouterr().out
    assert "4. If no phone is registered: voicemail." in out
    assert "5. If busy: extension 103." in out
    assert "=> ring 15 s, then voicemail" in out

    # an extension without a rule: the default, ring for the ring timeout, then voicemail
    no_rule = ["route", "explain", *sb, "--to", "102", "--at", "2026-12-22T10:00"]
    assert cli.main(no_rule) == 0
    out = capsys.readouterr().out
    assert "no answering rule applies" in out
    assert "If no phone is registered: voicemail." in out
    assert f"=> ring {env.ring_timeout} s, then voicemail" in out
