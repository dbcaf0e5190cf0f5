"""`switchboard device` and `switchboard contact`: the Phones and Contacts pages, scripted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main as cli
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore, sip_ha1
from tests.fixtures.core import Directory

T = "acme.example"


@pytest.fixture
def env(env: Settings, directory: Directory) -> Settings:
    """The command line's environment over the seeded directory."""
    return env


def test_device_add_list_revoke(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli.main(["device", "add", "--tenant", T, "--ext", "101", "--name", "Desk", "--json"]) == 0
    )
    added = json.loads(capsys.readouterr().out)
    assert added["username"] == "101-desk"
    store = ProvisioningStore(env.provisioning_db)
    row = store._db.execute("select ha1 from subscriber where username = '101-desk'").fetchone()
    assert row[0] == sip_ha1("101-desk", T, added["password"])[0]
    assert cli.main(["device", "list", "--tenant", T, "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["username"], listed["state"]) == ("101-desk", "unknown")  # Kamailio is down
    assert cli.main(["device", "revoke", "101-desk", "--tenant", T]) == 0
    assert "revoked" in capsys.readouterr().out
    assert store.devices(T) == []
    assert cli.main(["device", "revoke", "101-desk", "--tenant", T]) == 2
    assert "no device 101-desk" in capsys.readouterr().err
    assert cli.main(["device", "add", "--tenant", T, "--ext", "999", "--name", "X"]) == 2


def test_contact_import_list_export(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name,phone\nAda,+1 555 0100\nBad,\nBob,5550101\n")
    assert (
        cli.main(["contact", "import", str(source), "--tenant", T, "--ext", "101", "--dry-run"])
        == 0
    )
    out = capsys.readouterr()
    assert "2 contacts would be imported" in out.out and "line 3 (Bad)" in out.err
    args = ["--tenant", T, "--ext", "101"]
    assert cli.main(["contact", "import", str(source), *args, "--shared"]) == 2  # not a manager
    assert "only a manager" in capsys.readouterr().err
    assert cli.main(["contact", "import", str(source), *args]) == 0
    assert "2 contacts imported, 1 left out" in capsys.readouterr().out
    assert cli.main(["contact", "list", *args, "--search", "ada", "--json"]) == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["Ada"]
    assert cli.main(["contact", "list", "--tenant", T, "--ext", "102", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # 101's own contacts
    vcf = tmp_path / "out.vcf"
    assert cli.main(["contact", "export", *args, "-o", str(vcf)]) == 0
    assert vcf.read_text().count("BEGIN:VCARD") == 2
