"""Portal load test: 50 signed-in users on the production server (gunicorn) at once.

    python -m benchmarks.portal_load [--users 50] [--rows 1000000] [--seconds 60]
                                     [--workers 2] [--threads 8] [--think 10] [--ramp 10]
                                     [--data DIR] [--ingest-every S] [--no-front]

Seeds a tenant of ``--users`` people (a fifth managers, who see the whole
tenant; the rest plain users, who see their own calls) over a lake of
``--rows`` calls in the last 365 days (``benchmarks.analytics_lake``, one file a
day as compaction leaves it), starts the portal exactly as ``make run`` does
(``python -m dash_app``: nginx in front of gunicorn, ``--workers`` x ``--threads``;
``--no-front``: gunicorn alone, the baseline), signs every
user in through the login form (CSRF token from the form), spread over
``--ramp`` seconds (50 argon2 checks in the same instant are a stampede no
office makes), and lets each one browse until ``--seconds`` after the ramp:
Home, Call History (the page and the grid's first two blocks, as AG Grid asks
for them), Analytics, and the downloads (the Call History CSV of the last 7
days and one Analytics table as CSV), with ``--think`` seconds (mean,
exponential) between pages. ``--data DIR`` keeps the seeded data for the next run.
``--ingest-every S``: a live office beside them (``benchmarks.lake_trickle.ingest_live``).

A page is what the browser asks for when a user opens it from the navigation
bar (the portal is a single-page app): the page-content callback and the
page's own callbacks, one after the other. The first load of the portal also
fetches the HTML shell, ``/_dash-layout`` and ``/_dash-dependencies``.
Everything goes over HTTP, as a browser would send it: Dash callbacks are
POSTed to ``/_dash-update-component`` with ids read from ``/_dash-dependencies``.

Reports p50/p95/max per page (all requests, and warm: each user's later
rounds), errors (status >= 400 or no answer within 30 s) and requests/s, as
JSON. Goal (issue 10): no errors, p95 <= 1 s warm.

Think time: 10 s by default, a person reading the page they opened. ``--think 1`` is a
stress test, 50 people each clicking every second: the portal is then CPU bound (2 cores
serve about 30 requests/s at ~50 ms of CPU each) and every page waits in line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from benchmarks.analytics_lake import TZ, make_calls, write_lake
from benchmarks.lake_trickle import ingest_live
from benchmarks.percentiles import summary_ms
from benchmarks.testbed import make_settings
from switchboard.processes import ServerProcess, proc_stats
from switchboard.settings import Settings, default, setting_names
from switchboard.store import ProvisioningStore

TENANT = "load.example"
PASSWORD = "load-test-pass-1"
REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0
BROWSER_CONNECTIONS = 6  # what Chromium and Firefox open to one host at most


# -- the data ------------------------------------------------------------------------------
def seed(settings: Settings, users: int, rows: int) -> None:
    """The tenant, its users (ext 100…), and ``rows`` calls over the last 365 days."""
    store = ProvisioningStore(settings.provisioning_db)
    try:
        store.add_tenant(TENANT, TZ, name="Load Test Inc")
        for i in range(users):
            store.add_user(
                tenant=TENANT,
                extension=str(100 + i),
                name=f"User {100 + i}",
                email=f"u{100 + i}@{TENANT}",
                password=PASSWORD,
                sip_password=f"sip-{i}-secret",
                role="manager" if i % 5 == 0 else "user",
            )
    finally:
        store.close()
    start = datetime.combine(date.today() - timedelta(days=364), datetime.min.time(), UTC)
    write_lake(settings.lake_dir, TENANT, make_calls(rows, 7, start, 365))


def seed_once(settings: Settings, users: int, rows: int) -> dict[str, int]:
    """Seed a data dir unless it was (a marker file says so); what it holds."""
    marker = settings.data_dir / "portal_load.json"
    if not marker.exists():
        seed(settings, users, rows)
        marker.write_text(json.dumps({"users": users, "rows": rows}))
    held: dict[str, int] = json.loads(marker.read_text())
    if held["users"] < users:
        raise SystemExit(f"{settings.data_dir} holds {held['users']} users; use a new --data")
    return held


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes ``load_settings()`` in the portal return ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_CONFIG"] = str(settings.data_dir / "none.toml")
    for name in setting_names():
        env[f"SWITCHBOARD_{name.upper()}"] = str(getattr(settings, name))
    return env


def start_portal(settings: Settings) -> ServerProcess:
    """``python -m dash_app`` (gunicorn, as make run starts it); ready once the login form is."""
    url = f"http://{settings.portal_host}:{settings.portal_port}/login"
    return ServerProcess(
        "portal",
        [sys.executable, "-m", "dash_app"],
        ready=lambda: _answers(url),
        cwd=REPO_ROOT,
        env=settings_env(settings),
        output=settings.data_dir / "portal.log",
        start_timeout=120,
    ).start()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def portal_cpu_seconds(master: int) -> float:
    """CPU seconds used so far by the gunicorn master and its workers (from /proc)."""
    return sum(s.cpu_seconds for s in proc_stats() if master in (s.pid, s.ppid))


# -- one user ------------------------------------------------------------------------------
@dataclass
class Timings:
    """Seconds per page (and per round: 0 is each user's first, cold), errors."""

    samples: dict[str, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    per_request: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, round_no: int, seconds: float, requests: int) -> None:
        with self.lock:
            self.samples[page].append((round_no, seconds))
            self.requests += requests

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text[:300])


class PortalError(RuntimeError):
    """A request failed (status >= 400, or no answer)."""


def prop_of(tree: Any, component_id: str, prop: str) -> Any:
    """``prop`` of the component ``component_id`` in a Dash layout answer (None: not there)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == component_id:
                return props.get(prop)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def hrefs(tree: Any, prefix: str) -> list[str]:
    """Every ``href`` in a layout answer that starts with ``prefix``."""
    found = re.findall(r'"href":\s*"([^"]+)"', json.dumps(tree))
    return [h for h in found if h.startswith(prefix)]


class Browser:
    """One signed-in user's session, asking what the portal's JavaScript would ask."""

    def __init__(self, base_url: str, login: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=TIMEOUT)
        self.login = login
        self.requests = 0
        self.deps: list[dict[str, Any]] = []
        self.timed: list[tuple[str, float]] = []  # (request, seconds) for the breakdown
        self.pool = ThreadPoolExecutor(BROWSER_CONNECTIONS)  # a page's parallel callbacks
        self._lock = threading.Lock()

    def _check(self, response: httpx.Response, label: str = "") -> httpx.Response:
        with self._lock:
            self.requests += 1
            self.timed.append(
                (label or response.request.url.path, response.elapsed.total_seconds())
            )
        if response.status_code >= 400:
            raise PortalError(
                f"{response.request.url.path}: {response.status_code} {response.text[:200]}"
            )
        return response

    def get(self, path: str) -> httpx.Response:
        return self._check(self.client.get(path))

    def sign_in(self) -> bool:
        form = self.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        if token is None:
            raise PortalError("no CSRF token in the login form")
        answer = self._check(
            self.client.post(
                "/login",
                data={
                    "login": self.login,
                    "password": PASSWORD,
                    "csrf_token": token.group(1),
                    "next": "/",
                },
            )
        )
        if answer.status_code != 302:
            raise PortalError(f"sign-in of {self.login} answered {answer.status_code}")
        return True

    def load_shell(self) -> None:
        """The first visit: HTML shell, layout and the callback map."""
        self.get("/")
        self.get("/_dash-layout")
        self.deps = self.get("/_dash-dependencies").json()

    def callback(
        self, output: str, inputs: list[dict[str, Any]], state: list[dict[str, Any]]
    ) -> Any:
        """POST one callback as dash-renderer does; its answer's ``response``."""
        parts = output.strip(".").split("...") if output.startswith("..") else [output]
        outputs = [{"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts]
        body = {
            "output": output,
            "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs,
            "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        }
        answer = self._check(self.client.post("/_dash-update-component", json=body), output)
        return answer.json().get("response", {}) if answer.status_code == 200 else {}

    def deps_with_input(self, component: str, prop: str) -> list[dict[str, Any]]:
        return [
            d
            for d in self.deps
            if any(i["id"] == component and i["property"] == prop for i in d["inputs"])
        ]

    def page(self, path: str, search: str = "") -> Any:
        """The page-content callback of the pages plugin: the page's layout for this URL."""
        (dep,) = self.deps_with_input("_pages_location", "pathname")
        values = {"pathname": path, "search": search}
        inputs = [
            {"id": i["id"], "property": i["property"], "value": values.get(i["property"])}
            for i in dep["inputs"]
        ]
        state = [{"id": s["id"], "property": s["property"], "value": None} for s in dep["state"]]
        return self.callback(dep["output"], inputs, state)

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()


def visit_home(b: Browser) -> None:
    b.page("/")
    calls = []
    for dep in b.deps_with_input("home-refresh", "n_intervals"):  # fired on load
        inputs = [{"id": i["id"], "property": i["property"], "value": 0} for i in dep["inputs"]]
        state = [{"id": s["id"], "property": s["property"], "value": None} for s in dep["state"]]
        calls.append(partial(b.callback, dep["output"], inputs, state))
    # dash-renderer sends the callbacks a new layout fires at once, each its own request
    # (a browser opens up to 6 connections to a host): the page is there when the last is.
    for future in [b.pool.submit(call) for call in calls]:
        future.result()


def visit_calls(b: Browser) -> None:
    tree = b.page("/calls")
    flt = prop_of(tree, "calls-filter", "data") or {}
    (dep,) = b.deps_with_input("calls-grid", "getRowsRequest")
    for start in (0, 100):  # AG Grid's infinite model: the first two blocks of 100
        request: dict[str, Any] = {
            "startRow": start,
            "endRow": start + 100,
            "sortModel": [],
            "filterModel": {},
        }
        b.callback(
            dep["output"],
            [{"id": "calls-grid", "property": "getRowsRequest", "value": request}],
            [{"id": "calls-filter", "property": "data", "value": flt}],
        )


def visit_analytics(b: Browser) -> Any:
    return b.page("/analytics")


def downloads(b: Browser, analytics: Any) -> None:
    week = f"from={date.today() - timedelta(days=6)}&to={date.today()}"
    b.get(f"/download/calls.csv?{week}")  # httpx reads the whole body
    tables = [h for h in hrefs(analytics, "/download/analytics/") if ".csv" in h]
    if tables:
        b.get(tables[0])


def run_user(
    base_url: str,
    login: str,
    timings: Timings,
    until: float,
    think: float,
    rng: random.Random,
    start_delay: float = 0.0,
) -> None:
    b = Browser(base_url, login)
    seen: dict[str, Any] = {"analytics": None}  # the last Analytics layout: its download links

    def timed(page: str, round_no: int, fn: Callable[[], Any]) -> Any:
        before, started = b.requests, time.perf_counter()
        try:
            result = fn()
        except (PortalError, httpx.HTTPError, ValueError) as exc:
            timings.error(f"{login} {page}: {type(exc).__name__}: {exc}")
            return None
        timings.add(page, round_no, time.perf_counter() - started, b.requests - before)
        return result

    try:
        time.sleep(start_delay)
        if timed("sign-in", 0, b.sign_in) is None:
            return  # counted once; every later request would only be refused
        timed("shell", 0, b.load_shell)
        if not b.deps:
            return
        round_no = 0
        while time.monotonic() < until:
            for page, fn in (
                ("home", lambda: visit_home(b)),
                ("calls", lambda: visit_calls(b)),
                ("analytics", lambda: visit_analytics(b)),
                ("downloads", lambda: downloads(b, seen["analytics"])),
            ):
                result = timed(page, round_no, fn)
                if page == "analytics" and result is not None:
                    seen["analytics"] = result
                time.sleep(rng.expovariate(1 / think) if think > 0 else 0)
                if time.monotonic() >= until:
                    break
            round_no += 1
    finally:
        b.close()
        with timings.lock:
            for label, seconds in b.timed:
                timings.per_request[label].append(seconds)


# -- the report ----------------------------------------------------------------------------
def report(timings: Timings, seconds: float) -> dict[str, Any]:
    pages = {}
    for page, samples in sorted(timings.samples.items()):
        pages[page] = {
            "all": summary_ms([s for _, s in samples]),
            "warm": summary_ms([s for r, s in samples if r > 0]),
        }
    return {
        "pages": pages,
        "requests_by_kind": {k: summary_ms(v) for k, v in sorted(timings.per_request.items())},
        "errors": len(timings.errors),
        "error_examples": timings.errors[:5],
        "requests": timings.requests,
        "requests_per_s": round(timings.requests / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="each user browses this long")
    parser.add_argument("--workers", type=int, default=2, help="portal_workers")
    parser.add_argument("--threads", type=int, default=8, help="portal_threads")
    parser.add_argument("--think", type=float, default=10.0, help="mean seconds between pages")
    parser.add_argument(
        "--ramp", type=float, default=10.0, help="users sign in spread over this many seconds"
    )
    parser.add_argument("--data", type=Path, help="data dir to use (default: a temporary one)")
    parser.add_argument(
        "--listing-seconds",
        type=float,
        default=default("portal_listing_seconds"),
        help="the portal's portal_listing_seconds (make run's default)",
    )
    parser.add_argument("--no-front", action="store_true", help="gunicorn alone, no nginx")
    parser.add_argument("--ingest-every", type=float, default=0.0,
                        help="seconds between ingest ticks of 3 calls (0: none)")  # fmt: skip
    args = parser.parse_args()

    data_dir = args.data or Path(tempfile.mkdtemp(prefix="portal-load-")) / "data"
    settings = make_settings(
        data_dir,
        portal_workers=args.workers,
        portal_threads=args.threads,
        portal_listing_seconds=args.listing_seconds,
        portal_front=not args.no_front,
    )
    fresh = not (settings.data_dir / "portal_load.json").exists()
    t = time.perf_counter()
    held = seed_once(settings, args.users, args.rows)
    seeded = time.perf_counter() - t
    portal = start_portal(settings)
    assert portal.pid is not None
    try:
        base = f"http://{settings.portal_host}:{settings.portal_port}"
        timings = Timings()
        cpu_before, own_before = portal_cpu_seconds(portal.pid), time.process_time()
        started = time.monotonic()
        until = started + args.ramp + args.seconds
        threads = [
            threading.Thread(
                target=run_user,
                args=(base, f"{100 + i}@{TENANT}", timings, until, args.think, random.Random(i)),
                kwargs={"start_delay": args.ramp * i / max(1, args.users)},
            )
            for i in range(args.users)
        ]
        ingested = {"calls": 0, "ticks": 0}
        if args.ingest_every > 0:
            threads.append(
                threading.Thread(
                    target=ingest_live,
                    args=(settings, TENANT, [str(100 + i) for i in range(args.users)]),
                    kwargs={"every": args.ingest_every, "until": until, "counts": ingested},
                )
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        portal_cpu = portal_cpu_seconds(portal.pid) - cpu_before
        own_cpu = time.process_time() - own_before
    finally:
        portal.stop(30)
    out = {
        "users": args.users,
        "rows": held["rows"],
        "workers": args.workers,
        "threads": args.threads,
        "front": not args.no_front,
        "seconds": round(elapsed, 1),
        "ramp_seconds": args.ramp,
        "think_seconds": args.think,
        "ingest_every_seconds": args.ingest_every,
        "ingested": ingested,  # calls, ticks (and compactions) of the live office
        "seed_seconds": round(seeded, 1) if fresh else None,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        # The box's cores are shared (other processes, and this load generator itself):
        # CPU per request is the portal's cost whatever the contention.
        "portal_cpu_seconds": round(portal_cpu, 1),
        "load_generator_cpu_seconds": round(own_cpu, 1),
        "portal_cpu_ms_per_request": round(1000 * portal_cpu / max(1, timings.requests)),
        **report(timings, elapsed),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
