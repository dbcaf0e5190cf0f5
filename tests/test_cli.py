import pytest

from switchboard import cli
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(settings.data_dir / "none.toml"))
    return settings


def test_office_manager_provisions_a_tenant_and_users(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["init"]) == 0
    assert cli.main(["tenant", "add", "acme.example", "--timezone", "America/New_York"]) == 0
    args = ["user", "add", "--tenant", "acme.example", "--ext", "101", "--name", "Front Desk"]
    args += ["--email", "fd@acme.example", "--password", "pw-123456", "--sip-password"]
    assert cli.main([*args, "sip-123456", "--role", "manager"]) == 0
    assert "user 101@acme.example (Front Desk, manager) added" in capsys.readouterr().out
    store = ProvisioningStore(env.provisioning_db)
    assert store.user("acme.example", "101").role == "manager"

    assert cli.main([*args, "sip-123456"]) == 2
    assert "extension 101 already exists in acme.example" in capsys.readouterr().err
    assert cli.main(["tenant", "add", "x.example", "--timezone", "Nowhere/City"]) == 2
    assert "unknown time zone" in capsys.readouterr().err


def test_demo_seed_is_idempotent(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "seed"]) == 0
    assert cli.main(["demo", "seed"]) == 0
    assert "log in as 100@acme.example" in capsys.readouterr().out
    store = ProvisioningStore(env.provisioning_db)
    assert [u.extension for u in store.users("acme.example")] == [
        "100", "101", "102", "103", "104", "105"
    ]  # fmt: skip
