"""CLI parity: every edit and removal of tenants, users, rules, frames and main numbers.

Kamailio is not running here: each routing change is still written to the
decisions table (what Kamailio loads at start), which the tests read back.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from cli import main as cli
from cli.progress import Progress
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory

T = "acme.example"


@pytest.fixture
def env(env: Settings, directory: Directory) -> Settings:
    """The command line's environment over the seeded directory."""
    return env


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _store(env: Settings) -> ProvisioningStore:
    return ProvisioningStore(env.provisioning_db)


def test_user_list_and_show_speak_json(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "user", "list", "--tenant", T, "--json")
    assert code == 0
    users = json.loads(out)
    assert [u["extension"] for u in users] == ["100", "101", "102", "103"]
    assert "password_hash" not in out and users[0]["login"] == "100@acme.example"
    code, out, _ = run(capsys, "user", "list", "--tenant", T, "--search", "bob")
    assert out.splitlines() == ["102@acme.example\tBob Builder\tuser\t102@acme.example"]
    code, out, _ = run(capsys, "user", "show", "102", "--tenant", T, "--json")
    assert json.loads(out)["name"] == "Bob Builder"
    code, out, _ = run(capsys, "tenant", "list", "--json")
    assert {t["domain"] for t in json.loads(out)} == {"acme.example", "globex.example"}


def test_user_edit_changes_what_is_given(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "user", "edit", "102", "--tenant", T, "--name", "Robert Builder",
        "--timezone", "Europe/Berlin", "--role", "agent",
    )  # fmt: skip
    assert code == 0 and "Robert Builder, agent, Europe/Berlin" in out
    u = _store(env).user(T, "102")
    assert (u.name, u.email, u.role) == ("Robert Builder", "102@acme.example", "agent")
    # the push wrote the user's decision even with Kamailio down
    assert f"{T}:102" in _store(env).decisions()
    code, _, err = run(capsys, "user", "edit", "102", "--tenant", T, "--email", "nope")
    assert code == 2 and "not an email address" in err
    # caller IDs: the manager's grant, then the user's choice among them
    assert run(capsys, "did", "add", "+15551230000", "--tenant", T, "--name", "Main")[0] == 0
    code, _, err = run(capsys, "user", "edit", "102", "--tenant", T, "--caller-id", "+15551230000")
    assert code == 2 and "not a caller ID you may use" in err
    assert run(capsys, "user", "edit", "102", "--tenant", T, "--allow-caller-id", "+15551230000",
               "--caller-id", "+15551230000")[0] == 0  # fmt: skip
    shown = json.loads(run(capsys, "user", "show", "102", "--tenant", T, "--json")[1])
    assert (shown["caller_id"], shown["allowed_caller_ids"]) == ("+15551230000", ["+15551230000"])


def test_the_only_manager_cannot_be_removed_demoted_or_disabled(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ("user", "remove", "100", "--tenant", T),
        ("user", "disable", "100", "--tenant", T),
        ("user", "edit", "100", "--tenant", T, "--role", "user"),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "only manager of acme.example" in err, argv
    assert _store(env).user(T, "100").role == "manager"


def test_disable_enable_and_remove(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "user", "disable", "102", "--tenant", T)
    assert code == 0 and "disabled" in out
    with pytest.raises(ProvisioningError, match="disabled"):
        _store(env).authenticate(f"102@{T}", Directory.PASSWORD, "192.0.2.9", 100, 300)
    code, out, _ = run(capsys, "user", "list", "--tenant", T)
    assert "102@acme.example\tBob Builder\tuser\t102@acme.example\tdisabled" in out
    assert run(capsys, "user", "enable", "102", "--tenant", T)[0] == 0
    _store(env).authenticate(f"102@{T}", Directory.PASSWORD, "192.0.2.9", 100, 300)

    code, out, _ = run(capsys, "user", "remove", "102", "--tenant", T, "--reassign-mailbox", "101")
    assert code == 0 and "mailbox reassigned to 101, call history kept" in out
    assert "102" not in {u.extension for u in _store(env).users(T)}
    code, _, err = run(capsys, "user", "remove", "102", "--tenant", T)
    assert code == 2 and "no extension 102" in err


def test_passwd_prints_a_one_time_password(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "user", "passwd", "101", "--tenant", T)
    assert code == 0 and "one-time password" in err
    code_text = out.strip()
    user = _store(env).authenticate(f"101@{T}", code_text, "192.0.2.9", 100, 300)
    assert user.must_change_password

    code, out, _ = run(capsys, "user", "sip-passwd", "101", "--tenant", T)
    generated = out.strip()
    assert code == 0 and len(generated) >= 16
    from switchboard.store import sip_ha1

    ha1 = (
        _store(env)
        ._db.execute("select ha1 from subscriber where username = '101' and domain = ?", (T,))
        .fetchone()[0]
    )
    assert ha1 == sip_ha1("101", T, generated)[0]


def test_import_refuses_a_broken_file_and_adds_a_good_one(
    env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("extension,name,email,role\n201,Ann,ann@acme.example,user\n102,Dup,,user\n")
    code, out, err = run(capsys, "user", "import", str(bad), "--tenant", T)
    assert code == 2 and f"{bad}:3: extension 102 already exists" in err and out == ""
    assert "201" not in {u.extension for u in _store(env).users(T)}
    good = tmp_path / "good.csv"
    good.write_text("extension,name,email,role\n201,Ann,ann@acme.example,user\n202,Ben,,agent\n")
    code, out, err = run(capsys, "user", "import", str(good), "--tenant", T)
    assert code == 0 and "2 users added" in err
    lines = out.splitlines()
    assert lines[0] == "extension,one_time_password,sip_password" and len(lines) == 3
    assert "\r" not in err  # piped: no progress bar
    assert {f"{T}:201", f"{T}:202"} <= set(_store(env).decisions())

    code, out, _ = run(capsys, "user", "export", "--tenant", T)
    assert code == 0 and "201,Ann,ann@acme.example,user,America/New_York,enabled" in out


def test_tenant_edit(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tenant", "edit", T, "--name", "Acme Inc", "--timezone", "UTC")
    assert code == 0 and "Acme Inc (UTC)" in out
    assert run(capsys, "tenant", "edit", T, "--timezone", "Mars/Base")[0] == 2


def test_rule_list_edit_remove(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("--tenant", T, "--ext", "102")
    assert run(capsys, "rule", "add", "Desk", *base, "--priority", "10")[0] == 0
    code, out, _ = run(capsys, "rule", "list", *base, "--json")
    (rule,) = json.loads(out)
    assert (rule["name"], rule["ring_seconds"], rule["dnd"]) == ("Desk", 25, False)
    code, out, _ = run(
        capsys, "rule", "edit", "Desk", *base, "--rename", "Front", "--ring", "10", "--dnd",
        "--forward-busy", "extension:101",
    )  # fmt: skip
    assert code == 0, out
    (rule,) = json.loads(run(capsys, "rule", "list", *base, "--json")[1])
    assert (rule["name"], rule["ring_seconds"], rule["dnd"]) == ("Front", 10, True)
    assert rule["forward_busy"] == {"kind": "extension", "target": "101"}
    assert rule["priority"] == 10  # not given: kept
    assert run(capsys, "rule", "edit", "Front", *base, "--forward-busy", "off")[0] == 0
    assert json.loads(run(capsys, "rule", "list", *base, "--json")[1])[0]["forward_busy"] is None
    code, _, err = run(capsys, "rule", "edit", "Nope", *base, "--ring", "5")
    assert code == 2 and "no rule named 'Nope'" in err
    assert run(capsys, "rule", "remove", "Front", *base)[0] == 0
    assert json.loads(run(capsys, "rule", "list", *base, "--json")[1]) == []


def test_frame_list_edit_remove(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--tenant", T, "--period", "mon-fri@09:00-17:00")
    assert run(capsys, "frame", "add", "Open", *args)[0] == 0
    assert run(capsys, "rule", "add", "Office", "--tenant", T, "--ext", "102", "--priority", "5",
               "--frame", "Open")[0] == 0  # fmt: skip
    code, out, _ = run(
        capsys, "frame", "edit", "Open", "--tenant", T, "--period", "sat@10:00-12:00",
        "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert code == 0, out
    (frame,) = json.loads(run(capsys, "frame", "list", "--tenant", T, "--json")[1])
    assert frame["timezone"] == "Europe/Berlin"
    assert frame["periods"] == [{"weekly": [5], "start": "10:00", "end": "12:00"}]
    code, _, err = run(capsys, "frame", "remove", "Open", "--tenant", T)
    assert code == 2 and "used by rule 'Office'" in err
    assert run(capsys, "rule", "remove", "Office", "--tenant", T, "--ext", "102")[0] == 0
    assert run(capsys, "frame", "remove", "Open", "--tenant", T)[0] == 0
    assert json.loads(run(capsys, "frame", "list", "--tenant", T, "--json")[1]) == []
    # a personal frame is edited only with its owner named
    assert run(capsys, "frame", "add", "Gym", "--tenant", T, "--ext", "102")[0] == 0
    code, _, err = run(capsys, "frame", "remove", "Gym", "--tenant", T)
    assert code == 2 and "no company time frame named 'Gym'" in err
    assert run(capsys, "frame", "remove", "Gym", "--tenant", T, "--ext", "102")[0] == 0


def test_did_list_and_remove(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "did", "add", "+15551230000", "--tenant", T, "--name", "Main")[0] == 0
    assert run(capsys, "did", "route", "+15551230000", "Always", "--priority", "1",
               "--to", "extension:101")[0] == 0  # fmt: skip
    (did,) = json.loads(run(capsys, "did", "list", "--tenant", T, "--json")[1])
    assert did["number"] == "+15551230000" and did["routes"][0]["name"] == "Always"
    assert "did:+15551230000" in _store(env).decisions()
    code, _, err = run(capsys, "did", "remove", "+15551230000", "--tenant", "globex.example")
    assert code == 2 and "no main number +15551230000 in globex.example" in err
    code, out, _ = run(capsys, "did", "remove", "+15551230000", "--tenant", T)
    assert code == 0 and "still allocated" in out
    assert json.loads(run(capsys, "did", "list", "--tenant", T, "--json")[1]) == []
    assert "did:+15551230000" not in _store(env).decisions()


def test_progress_draws_on_a_terminal_only() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        with Progress(4, "importing", stream=stream) as bar:
            for _ in range(4):
                bar.advance()
    assert pipe.getvalue() == ""
    assert "\rimporting [" in tty.getvalue() and tty.getvalue().endswith("4/4\n")


def test_ticking_counts_seconds_on_a_terminal_only() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        with Progress.ticking("exporting calls", stream=stream):
            time.sleep(1.2)
    assert pipe.getvalue() == ""
    assert "\rexporting calls 1 s" in tty.getvalue()
