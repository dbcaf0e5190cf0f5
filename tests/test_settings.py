from pathlib import Path

import pytest

from switchboard.settings import SETTINGS, load_settings, setting_names


def test_every_setting_is_declared_once_and_documented() -> None:
    declared = [s.name for s in SETTINGS]
    assert declared == setting_names()
    assert all(s.help.strip() for s in SETTINGS)
    docs = Path(__file__).parent.parent.joinpath("docs", "settings.md").read_text()
    undocumented = [name for name in declared if f"`{name}`" not in docs]
    assert undocumented == []


def test_environment_overrides_file_overrides_default(tmp_path: Path) -> None:
    toml = tmp_path / "switchboard.toml"
    toml.write_text("[switchboard]\nsip_port = 5999\nportal_port = 9000\n")
    env = {"SWITCHBOARD_CONFIG": str(toml), "SWITCHBOARD_PORTAL_PORT": "9100"}
    s = load_settings(env)
    assert s.sip_port == 5999
    assert s.portal_port == 9100
    assert s.rpc_port == 5071
    assert s.provisioning_db == Path("data").resolve() / "switchboard.sqlite"


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "switchboard.toml"
    toml.write_text("[switchboard]\nsip_prot = 5999\n")
    with pytest.raises(ValueError, match="sip_prot"):
        load_settings({"SWITCHBOARD_CONFIG": str(toml)})
