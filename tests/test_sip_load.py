"""Load: 200 calls/s for 30 s through Kamailio, every call accounted exactly once.

Measured on a 2-core box with SIPp caller and callee on the same machine; see
DESIGN.md for why accounting goes through one queue and one writer process.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from kamailio.launcher import KamailioProcess
from pipeline.ingest import ingest_once
from pipeline.warehouse import connect
from switchboard.settings import Settings
from tests.fixtures.sip import load_from_101_to_102, one_account_load

pytestmark = [pytest.mark.kamailio, pytest.mark.load]

RATE = 200
SECONDS = 30


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return one_account_load(settings)


def _acc_counts(path: object) -> tuple[int, int]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("select count(*), count(distinct call_id) from cdr").fetchone()
    finally:
        db.close()


def test_200_calls_per_second_for_30_seconds_lose_nothing(kamailio: KamailioProcess) -> None:
    s = kamailio.settings
    # the box may be shared: slow is not lost
    load = load_from_101_to_102(s, calls=RATE * SECONDS, rate=RATE, timeout=SECONDS * 5)
    with load as (result, phone_102):
        # A call is complete when the caller saw its end: BYE answered, or a final failure.
        byes_ok = {line.split()[-1] for line in result.log_lines if line.startswith("bye_ok")}
        # The callee's SIPp writes its log in buffered chunks: wait for it to catch up.
        deadline = time.monotonic() + 15
        while True:
            byes_answered = sum(1 for line in phone_102.log_lines() if line.startswith("bye "))
            if byes_answered >= len(byes_ok) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    completed = {cid for cid, code in result.finals.items() if code != 200 or cid in byes_ok}
    assert len(completed) >= RATE * SECONDS * 0.95, (len(completed), result.errors[-2000:])
    assert len(byes_ok) >= RATE * SECONDS * 0.9, "most calls were not answered"
    assert byes_answered >= len(byes_ok)

    deadline = time.monotonic() + 15
    while _acc_counts(s.acc_db)[0] < len(completed) and time.monotonic() < deadline:
        time.sleep(0.2)
    rows, distinct = _acc_counts(s.acc_db)
    assert rows == distinct, "a call was accounted twice"
    db = sqlite3.connect(f"file:{s.acc_db}?mode=ro", uri=True)
    accounted = {r[0] for r in db.execute("select call_id from cdr")}
    answered = {r[0] for r in db.execute("select call_id from cdr where sip_code = 200")}
    db.close()
    assert completed <= accounted, f"{len(completed - accounted)} completed calls missing"
    assert byes_ok <= answered
    assert accounted <= set(result.finals), "a row for a call nobody placed"

    ingest_once(s)
    con = connect(s, "acme.example")
    lake_rows, lake_distinct, lake_answered = con.execute(
        "select count(*), count(distinct call_id),"
        " count(*) filter (where disposition = 'answered') from calls"
    ).fetchone()
    con.close()
    assert lake_rows == lake_distinct == distinct
    assert lake_answered == len(answered)
