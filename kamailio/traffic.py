"""Real SIP traffic through Kamailio with SIPp: registrations, callers, callees.

Used by ``switchboard demo traffic`` (demo calls that land in the lake like
any phone's) and by the SIP tests. Nothing here fakes accounting rows: every
call is signalled through Kamailio, which writes the ``cdr`` row itself.

Callees are SIPp UAS processes, one per behaviour (answer, busy, no answer,
ring until cancelled); each callee extension REGISTERs (digest auth with its
SIP password) a Contact pointing at the UAS of its behaviour. Callers are
SIPp UACs that proxy-authenticate every INVITE. A callee without an answering
rule sends unanswered calls to its mailbox, so the "no answer" calls reach
the voicemail server (the media server) when it runs, and are missed when not.

The scenarios are the XML files in ``kamailio/sipp/`` (shared with the tests).
Their outcome lines (``final <code> <call-id>``) come from SIPp ``<log>``
actions, so a caller's view of each call is counted, not guessed.

Errors: ``SippError`` (SIPp missing, failed, or timed out; the message holds
its error log tail).
"""

from __future__ import annotations

import logging
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from switchboard.processes import (
    ManagedProcess,
    address_in_use,
    die_with_parent,
    free_server_port,
    udp_bound,
)
from switchboard.settings import Settings

log = logging.getLogger(__name__)

SCENARIO_DIR = Path(__file__).resolve().parent / "sipp"
_FINAL_RE = re.compile(r"final (\d{3}) (\S+)")

# Lake disposition of the caller's final code, for the summary only
# (the pipeline derives the real one from the accounting row).
_OUTCOME_OF_CODE = {200: "answered", 486: "busy", 600: "busy", 487: "cancelled", 408: "missed"}
_OUTCOME_OF_CODE[480] = "missed"
# A "no answer" callee's call that is answered was answered by its voicemail.
_NO_ANSWER = "no answer"


class SippError(RuntimeError):
    """SIPp could not run a scenario to the end."""


@dataclass(frozen=True)
class SipAccount:
    """A SIP identity SIPp may authenticate as."""

    extension: str
    domain: str
    sip_password: str
    name: str = ""


@dataclass
class SippResult:
    """What one SIPp client run saw."""

    returncode: int
    log_lines: list[str]
    errors: str

    @property
    def finals(self) -> dict[str, int]:
        """Final SIP code the caller received, by Call-ID."""
        out: dict[str, int] = {}
        for line in self.log_lines:
            match = _FINAL_RE.search(line)
            if match:
                out[match.group(2)] = int(match.group(1))
        return out


def scenario(name: str) -> Path:
    path = SCENARIO_DIR / name
    if not path.is_file():
        raise SippError(f"SIPp scenario {path} missing")
    return path


def free_udp_port(avoid: Container[int] = ()) -> int:
    """A UDP port free on loopback right now (for a SIPp UAS), outside the ranges the
    kernel and rtpengine hand out, and never one of ``avoid``."""
    while (port := free_server_port()) in avoid:
        pass
    return port


def configured_ports(settings: Settings) -> set[int]:
    """The ports ``settings`` give our servers and the carrier. One may be free to the
    kernel yet still mean something: nothing binds the carrier's port in a demo, and a
    SIPp client that drew it sent its REGISTER "from the carrier", whom Kamailio answers
    405 for anything but an INVITE (test_run, once in CI)."""
    media = range(settings.media_port, settings.media_port + settings.media_workers)
    return {
        settings.sip_port,
        settings.sip_tls_port,
        settings.rpc_port,
        settings.trunk_port,
        settings.portal_port,
        settings.rtpengine_ng_port,
        *media,
    }


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if path is None:
        raise SippError("sipp not found (Debian package sip-tester)")
    return path


def _write_csv(path: Path, rows: Iterable[Sequence[object]]) -> None:
    # SIPp injection file: first line is the read order, fields split by ';'.
    lines = ["SEQUENTIAL"]
    for row in rows:
        values = [str(v) for v in row]
        if any(";" in v or "\n" in v for v in values):
            raise SippError(f"SIPp CSV field may not hold ';' or newlines: {values}")
        lines.append(";".join(values))
    path.write_text("\n".join(lines) + "\n")


def run_sipp(
    settings: Settings,
    scenario_file: Path,
    rows: Sequence[Sequence[object]],
    *,
    calls: int | None = None,
    rate: float = 10.0,
    duration_ms: int = 1000,
    limit: int | None = None,
    timeout: float = 60.0,
    auth: SipAccount | None = None,
    work_dir: Path | None = None,
    extra: Sequence[str] = (),
    local_port: int | None = None,
) -> SippResult:
    """Run a SIPp client scenario against Kamailio, one call per CSV row by default.

    ``auth`` answers digest challenges; SIPp takes one identity per run.
    ``local_port`` fixes SIPp's source port (the carrier sends from the trunk port).
    """
    work = Path(tempfile.mkdtemp(prefix="sipp-", dir=work_dir))
    csv_path, log_path, err_path = work / "calls.csv", work / "log.txt", work / "errors.txt"
    _write_csv(csv_path, rows)
    n_calls = len(rows) if calls is None else calls
    cmd = [
        sipp_binary(),
        f"{settings.sip_host}:{settings.sip_port}",
        "-sf", str(scenario_file),
        "-inf", str(csv_path),
        "-m", str(n_calls),
        "-r", str(rate),
        "-d", str(duration_ms),
        "-i", "127.0.0.1",
        "-p", str(local_port or free_udp_port(configured_ports(settings))),
        "-nostdin",
        "-trace_logs", "-log_file", str(log_path),
        "-trace_err", "-error_file", str(err_path),
        "-timeout", f"{int(timeout)}s", "-timeout_error",
        *(["-au", auth.extension, "-ap", auth.sip_password] if auth else []),
        *(["-l", str(limit)] if limit else []),
        *extra,
    ]  # fmt: skip
    log.debug("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(
            cmd,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout + 10,
            check=False,
            preexec_fn=die_with_parent(),
        )
    except subprocess.TimeoutExpired as exc:
        raise SippError(f"sipp {scenario_file.name} hung past {timeout + 10}s") from exc
    errors = err_path.read_text(errors="replace") if err_path.exists() else ""
    errors += proc.stderr.decode(errors="replace")
    lines = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
    return SippResult(proc.returncode, lines, errors)


class SippUAS(ManagedProcess):
    """A SIPp callee running in the background on its own UDP port.

    ``extra`` are more SIPp options (``-mp`` for a fixed RTP port); ``work``
    is where its scenario may live and its logs go (a new temp dir if None).
    It is ready once SIPp holds its SIP port, so Kamailio can route to it.
    """

    start_error = SippError
    ready_interval = 0.02

    def __init__(
        self,
        scenario_file: Path,
        port: int | None = None,
        *,
        extra: Sequence[str] = (),
        work: Path | None = None,
    ) -> None:
        self.scenario_file = scenario_file
        self.port = port or free_udp_port()
        self.extra = tuple(extra)
        self.work = work or Path(tempfile.mkdtemp(prefix="sipp-uas-"))
        self.log_path = self.work / "log.txt"
        super().__init__(f"sipp UAS {scenario_file.name}", self.work / "errors.txt")

    @property
    def contact(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self.running:
            return self
        if address_in_use(socket.SOCK_DGRAM, "127.0.0.1", self.port):
            raise SippError(f"cannot start {self.name}: UDP {self.contact} already in use")
        cmd = [
            sipp_binary(),
            "-sf", str(self.scenario_file),
            "-i", "127.0.0.1",
            "-p", str(self.port),
            "-nostdin",
            "-trace_logs", "-log_file", str(self.log_path),
            "-trace_err", "-error_file", str(self.error_log),
            *self.extra,
        ]  # fmt: skip
        self.spawn(cmd, cwd=self.work)
        self.wait_ready()
        return self

    def ready(self) -> bool:
        """SIPp has bound its SIP port."""
        return udp_bound("127.0.0.1", self.port)

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()


def register(
    settings: Settings,
    accounts: Sequence[SipAccount],
    contact: str,
    *,
    expires: int = 600,
    timeout: float = 20.0,
    contact_user: str | None = None,
) -> SippResult:
    """REGISTER each account (digest auth) with Contact ``<ext>@<contact>``.

    ``contact_user`` replaces ``<ext>`` in the Contact (phones often put a
    device id there, not the extension). Returns the first failed run, else
    the last one.
    """
    if not accounts:
        raise SippError("nothing to register")
    for account in accounts:
        user = contact_user or account.extension
        row = (account.extension, account.domain, user, contact, expires)
        result = run_sipp(
            settings, scenario("register.xml"), [row], timeout=timeout, duration_ms=0, auth=account
        )
        if result.returncode != 0:
            return result
    return result


def call_rows(pairs: Iterable[tuple[SipAccount, SipAccount]]) -> list[tuple[str, ...]]:
    """CSV rows of uac.xml / uac_cancel.xml for (caller, callee) pairs."""
    return [
        (
            caller.extension,
            caller.domain,
            "-",
            callee.extension,
            callee.domain,
            (caller.name or caller.extension).replace('"', "'"),
        )
        for caller, callee in pairs
    ]


@dataclass
class TrafficSummary:
    """What the callers saw: outcome counts and the Call-IDs placed."""

    placed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    call_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0


# The outcome of a call SIPp aborted without a final response.
ABORTED = "aborted"

# behaviour: (UAS scenario, caller scenario, share of calls)
_BEHAVIOURS: tuple[tuple[str, str, str, float], ...] = (
    ("answered", "uas_answer.xml", "uac.xml", 0.55),
    ("busy", "uas_busy.xml", "uac.xml", 0.15),
    (_NO_ANSWER, "uas_noanswer.xml", "uac.xml", 0.15),
    ("cancelled", "uas_ring.xml", "uac_cancel.xml", 0.15),
)


def _outcome(behaviour: str, code: int) -> str:
    """The lake disposition of a call the caller saw end with ``code``, for the summary."""
    if behaviour == _NO_ANSWER and code == 200:
        return "voicemail"  # the phone did not answer: its mailbox did
    return _OUTCOME_OF_CODE.get(code, "failed")


def _accounts(users: Iterable[SipAccount | tuple[str, str, str]]) -> list[SipAccount]:
    return [u if isinstance(u, SipAccount) else SipAccount(*u) for u in users]


def tally(summary: TrafficSummary, name: str, planned: int, result: SippResult) -> None:
    """Add one SIPp run of ``planned`` calls of behaviour ``name`` to ``summary``.

    A call SIPp gave up on (an unexpected message, a timeout) logs no final response: it
    counts as "aborted", and SIPp's own words go to the log (once, 28 of 30 demo calls
    were logged and nothing said why)."""
    for call_id, code in result.finals.items():
        summary.placed += 1
        summary.call_ids.append(call_id)
        summary.outcomes[_outcome(name, code)] += 1
    aborted = planned - len(result.finals)
    if aborted > 0:
        summary.placed += aborted
        summary.outcomes[ABORTED] += aborted
        log.warning("demo traffic: %d %s call(s) aborted by SIPp:\n%s", aborted, name,
                    result.errors[-2000:] or "(SIPp logged no error)")  # fmt: skip


def place_demo_calls(
    settings: Settings,
    users: Iterable[SipAccount | tuple[str, str, str]],
    calls: int,
    rate: float = 5,
    *,
    talk_ms: int = 3000,
    seed: int = 42,
) -> TrafficSummary:
    """Place ``calls`` real calls between ``users`` (extension, domain, SIP password).

    Callers and callees are in the same tenant. Each tenant needs at least two
    users; callee extensions are given one behaviour each (answer, busy,
    no answer, ring until the caller cancels), so a tenant with fewer than
    five users gets fewer kinds of outcome. Callees stay registered to the
    SIPp UAS until the traffic ends, then are unregistered.
    """
    rng = random.Random(seed)
    by_tenant: dict[str, list[SipAccount]] = {}
    for account in _accounts(users):
        by_tenant.setdefault(account.domain, []).append(account)
    tenants = {d: a for d, a in by_tenant.items() if len(a) >= 2}
    if not tenants or calls <= 0:
        raise ValueError("demo traffic needs calls > 0 and a tenant with two SIP users")

    # Each tenant keeps its first user as a caller only; the others are callees.
    callees: dict[str, list[SipAccount]] = {name: [] for name, *_ in _BEHAVIOURS}
    for accounts in tenants.values():
        for i, account in enumerate(accounts[1:]):
            callees[_BEHAVIOURS[i % len(_BEHAVIOURS)][0]].append(account)
    behaviours = [b for b in _BEHAVIOURS if callees[b[0]]]
    total_share = sum(b[3] for b in behaviours)

    summary = TrafficSummary()
    started = time.monotonic()
    uases: list[SippUAS] = []
    registered: list[tuple[list[SipAccount], str]] = []
    try:
        plans: list[tuple[str, str, list[tuple[SipAccount, SipAccount]]]] = []
        remaining = calls
        for index, (name, uas_file, uac_file, share) in enumerate(behaviours):
            n = remaining if index == len(behaviours) - 1 else round(calls * share / total_share)
            n = min(n, remaining)
            remaining -= n
            if n == 0:
                continue
            uas = SippUAS(scenario(uas_file), free_udp_port(configured_ports(settings))).start()
            uases.append(uas)
            result = register(settings, callees[name], uas.contact)
            if result.returncode != 0:
                raise SippError(f"registering demo callees failed:\n{result.errors[-2000:]}")
            registered.append((callees[name], uas.contact))
            pairs = []
            for _ in range(n):
                callee = rng.choice(callees[name])
                caller = rng.choice([a for a in tenants[callee.domain] if a != callee])
                pairs.append((caller, callee))
            plans.append((name, uac_file, pairs))

        # SIPp authenticates as one user per run: one run per (behaviour, caller),
        # all at once, each at its share of the rate.
        runs: list[tuple[str, str, SipAccount, list[tuple[SipAccount, SipAccount]]]] = []
        for name, uac_file, pairs in plans:
            by_caller: dict[SipAccount, list[tuple[SipAccount, SipAccount]]] = {}
            for pair in pairs:
                by_caller.setdefault(pair[0], []).append(pair)
            runs.extend((name, uac_file, caller, group) for caller, group in by_caller.items())
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            futures = []
            for name, uac_file, caller, group in runs:
                hold = talk_ms if uac_file == "uac.xml" else 1000 + rng.randrange(2000)
                share = max(rate * len(group) / calls, 0.05)
                future = pool.submit(
                    run_sipp,
                    settings,
                    scenario(uac_file),
                    call_rows(group),
                    rate=share,
                    duration_ms=hold,
                    auth=caller,
                    timeout=len(group) / share + settings.ring_timeout + 60,
                )
                futures.append((name, len(group), future))
            for name, planned, future in futures:
                tally(summary, name, planned, future.result())
    finally:
        for accounts, contact in registered:
            try:
                register(settings, accounts, contact, expires=0)
            except SippError:
                log.warning("could not unregister demo callees at %s", contact)
        for uas in uases:
            uas.stop()
    summary.seconds = time.monotonic() - started
    log.info("demo traffic: %s calls %s in %.1fs", summary.placed, dict(summary.outcomes),
             summary.seconds)  # fmt: skip
    return summary
