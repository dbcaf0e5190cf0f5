"""The warehouse: one tenant per connection, one extension when asked, nothing else."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.ingest import ingest_rows
from pipeline.lake import Lake
from pipeline.queries import VIEW_COLUMNS
from pipeline.warehouse import WarehouseError, connect
from switchboard.settings import Settings
from tests.fixtures.sample_lake import DIRECTORY, sample_rows, write_sample_lake


def call_ids(conn: duckdb.DuckDBPyConnection, sql: str = "select call_id from calls") -> set[str]:
    return {r[0] for r in conn.execute(sql).fetchall()}


def test_a_tenant_sees_only_its_own_calls(settings: Settings) -> None:
    write_sample_lake(settings)
    with connect(settings, "acme.example") as acme:
        assert call_ids(acme) == {
            "ny-late", "morning", "busy", "dst-night", "half-price", "underscore",
        }  # fmt: skip
        assert acme.execute("select distinct tenant from calls").fetchall() == [("acme.example",)]
    with connect(settings, "globex.example") as globex:
        assert call_ids(globex) == {"globex-desk"}


def test_raw_sql_cannot_open_another_tenants_files(settings: Settings) -> None:
    write_sample_lake(settings)
    other = settings.lake_dir / "calls" / "tenant=globex.example"
    with connect(settings, "acme.example") as acme:
        for sql in (
            f"select * from read_parquet('{other}/*/*.parquet')",
            f"select * from read_parquet('{settings.lake_dir}/calls/tenant=acme.example/../"
            "tenant=globex.example/*/*.parquet')",
            "select * from read_csv('/etc/passwd')",
        ):
            with pytest.raises(duckdb.Error, match="disabled by configuration"):
                acme.execute(sql)
        with pytest.raises(duckdb.Error, match="locked"):
            acme.execute("set enable_external_access = true")


@pytest.mark.parametrize(
    "tenant",
    ["../x", "a' or 1=1", "acme.example/../globex.example", "", "*", "ACME.EXAMPLE", "acme"],
)
def test_a_malicious_tenant_name_is_refused(settings: Settings, tenant: str) -> None:
    with pytest.raises(WarehouseError, match="is not a tenant name"):
        connect(settings, tenant)


def test_an_extension_bound_view_shows_only_that_extensions_calls(settings: Settings) -> None:
    write_sample_lake(settings)
    with connect(settings, "acme.example", extension="101") as conn:
        assert call_ids(conn) == {"ny-late", "morning"}  # answered by 101, placed by 101
    with connect(settings, "acme.example", extension="103") as conn:
        assert call_ids(conn) == {"dst-night", "underscore"}  # answered, called
    with connect(settings, "acme.example", extension="104") as conn:
        assert call_ids(conn) == set()


@pytest.mark.parametrize("extension", ["101' or '1'='1", "../1", "", "1"])
def test_a_malformed_extension_is_refused(settings: Settings, extension: str) -> None:
    with pytest.raises(WarehouseError, match="is not an extension"):
        connect(settings, "acme.example", extension=extension)


def test_no_files_yet_is_an_empty_view_with_the_right_columns(settings: Settings) -> None:
    with connect(settings, "acme.example") as conn:
        assert conn.execute("select count(*) from calls").fetchone() == (0,)
        described = conn.execute("describe calls").fetchall()
    assert tuple(r[0] for r in described) == VIEW_COLUMNS
    types = dict((r[0], r[1]) for r in described)
    assert types["started_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["date"] == "DATE"
    assert types["ring_seconds"] == "DOUBLE"


def test_the_view_has_the_same_columns_over_files(settings: Settings) -> None:
    write_sample_lake(settings)
    with connect(settings, "acme.example") as conn:
        described = conn.execute("describe calls").fetchall()
    assert tuple(r[0] for r in described) == VIEW_COLUMNS
    assert dict((r[0], r[1]) for r in described)["sip_code"] == "INTEGER"


def test_setting_a_variable_cannot_widen_a_plain_users_view(settings: Settings) -> None:
    """The scope is a literal of the views, not a session variable raw SQL could change."""
    write_sample_lake(settings)
    with connect(settings, "acme.example", extension="104") as conn:
        conn.execute("set variable sb_extension = '101'")
        assert call_ids(conn) == set()


def test_an_outside_caller_presenting_an_extension_is_not_that_users_call(
    settings: Settings,
) -> None:
    """The carrier's From is whatever the caller sets: "104" calling the main number,
    answered by 101, is 101's call (and recording), never 104's."""
    write_sample_lake(settings)
    spoofed = {**sample_rows()[0], "id": 99, "call_id": "spoofed", "caller": "104"}
    ingest_rows(Lake(settings.lake_dir, durable=False), [spoofed], DIRECTORY, after=98)
    with connect(settings, "acme.example", extension="104") as conn:
        assert call_ids(conn) == set()
    with connect(settings, "acme.example", extension="101") as conn:
        assert "spoofed" in call_ids(conn)
    with connect(settings, "acme.example", extension="102") as conn:  # 102 placed these
        assert {"morning", "busy"} <= call_ids(conn)


@pytest.mark.parametrize("message_id", ["vm-1' or '1'='1", "x", ""])
def test_a_malformed_forwarded_message_id_is_refused(settings: Settings, message_id: str) -> None:
    with pytest.raises(WarehouseError, match="is not a message id"):
        connect(settings, "acme.example", extension="101", forwarded_message_ids=[message_id])


def test_query_threads_bound_each_new_database_and_are_checked(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import warehouse

    write_sample_lake(settings)
    monkeypatch.setattr(warehouse, "_QUERY_THREADS", 0)
    with connect(settings, "globex.example") as conn:  # DuckDB's default: a thread per core
        default = conn.execute("select current_setting('threads')").fetchone()
    warehouse.set_query_threads(1)  # the portal's setting portal_query_threads
    with connect(settings, "acme.example", extension="101") as conn:
        assert conn.execute("select current_setting('threads')").fetchone() == (1,)
        assert call_ids(conn) == {"ny-late", "morning"}  # the same answers on one thread
    assert default is not None and default[0] >= 1
    with pytest.raises(WarehouseError, match="0 or more"):
        warehouse.set_query_threads(-1)
