import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli import main as cli
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore


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
    # office hours, holidays, the manager's rules and a main number come with it, once
    assert sorted(store.frames("acme.example")) == ["Holidays", "Open Hours"]
    manager = store.user("acme.example", "100")
    assert [r.name for r in store.routing_inputs(manager).rules] == [
        "Holidays", "Office", "After hours"
    ]  # fmt: skip
    (main,) = store.dids("acme.example")
    assert len(store.did_routing_inputs(main).rules) == 3


def test_calls_export_writes_the_rows_the_grid_shows(
    env: Settings, directory: object, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from pipeline.filters import CallFilter
    from pipeline.history import call_page
    from pipeline.warehouse import connect
    from tests.fixtures.sample_lake import write_sample_lake

    write_sample_lake(env)
    out = tmp_path / "calls.csv"
    args = ["calls", "export", "--tenant", "acme.example", "--from", "2024-01-01"]
    assert cli.main([*args, "--to", "2024-12-31", "--direction", "inbound", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    flt = CallFilter.from_query(
        {"from": "2024-01-01", "to": "2024-12-31", "direction": "inbound"}, "America/New_York"
    )
    with connect(env, "acme.example") as conn:
        grid, total = call_page(conn, flt, offset=0, limit=1000)
    assert total > 0 and len(rows) == total
    assert [r["call_id"] for r in rows] == [g["call_id"] for g in grid]
    assert {r["direction"] for r in rows} == {"inbound"}
    assert f"{total} calls written" in capsys.readouterr().err

    pq_out = tmp_path / "calls.parquet"
    assert cli.main([*args, "--to", "2024-12-31", "--format", "parquet", "-o", str(pq_out)]) == 0
    assert pq.read_table(pq_out).num_rows >= total

    assert cli.main([*args, "--to", "2024-12-31", "--direction", "sideways", "-o", str(out)]) == 2
    assert "direction" in capsys.readouterr().err
