"""Concurrent calls through userspace rtpengine: recorded vs relayed only vs no rtpengine.

Real parts: Kamailio, rtpengine (``--table=-1``, pcap recording), two SIPp
phones (``benchmarks/relay_phones.py``): 101 calls 102 ``--calls`` times at a
rate that keeps ``--concurrent`` calls up at once; each side plays
``--seconds`` of 20 ms G.711 packets. Three phases in one run, same load:

- ``none``: ``relay_enabled`` off, RTP goes phone to phone;
- ``relayed``: rtpengine in the path, policy ``never``;
- ``recorded``: rtpengine in the path, policy ``always`` (pcap per call).

Per phase: calls answered/placed, the peak of calls rtpengine held at once,
packets the phones sent vs packets rtpengine relayed (its ``statistics``) and,
when recording, packets found in the pcaps (loss = what is missing), UDP
receive-buffer errors of the whole machine (``/proc/net/snmp``), and CPU
(utime + stime) of rtpengine, Kamailio and SIPp over the phase, per call
(% of one core per concurrent call).

    .venv/bin/python -m benchmarks.relay_capacity [--concurrent 100] [--seconds 6] [--calls 200]

Measured here (2 cores shared with other test runs, load average 17-30, rtpengine
10.5 userspace, 2 threads): 100 concurrent calls (200 placed, 6 s each way):
recorded 120,000 of 120,000 packets relayed and in the pcaps (0 lost), rtpengine
14% of a core (0.22% per call), the same calls unrecorded 0.21% per call, Kamailio
0.47 s CPU for 200 calls vs 0.41 s without rtpengine. At 200 concurrent rtpengine
still used only 18% of a core with no drop on its sockets, but 5-7% of the packets
never reached it: the SIPp phones' pcap players fall behind on a box this loaded
(and their tails arrive after the BYE), so that step measures the phones, not the relay.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.relay_phones import PcapCallee, pcap_call
from benchmarks.testbed import make_settings
from kamailio.launcher import KamailioProcess
from kamailio.traffic import SipAccount, register
from relay.launcher import RelayProcess, ng_client
from relay.ng import NGError
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore

TENANT = "acme.example"
PASSWORD = "sip-secret-1"


def seed(settings: Settings) -> None:
    store = ProvisioningStore(settings.provisioning_db)
    store.add_tenant(TENANT, "UTC")
    for ext in ("101", "102"):
        store.add_user(
            tenant=TENANT,
            extension=ext,
            name=f"Phone {ext}",
            email=f"{ext}@{TENANT}",
            password="portal-pass-1",
            sip_password=PASSWORD,
        )
    store.close()


def set_policy(settings: Settings, mode: str) -> None:
    store = ProvisioningStore(settings.provisioning_db)
    store.set_recording_policy(TENANT, "tenant", mode)
    store.close()


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes and their children so far."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            continue
    return total


def udp_rcvbuf_errors() -> int:
    lines = [
        x.split() for x in Path("/proc/net/snmp").read_text().splitlines() if x.startswith("Udp:")
    ]
    return int(dict(zip(lines[0][1:], lines[1][1:], strict=True))["RcvbufErrors"])


def count_pcap_records(path: Path) -> int:
    """Packets in a pcap file (little-endian, as rtpengine writes it here)."""
    data = path.read_bytes()
    count, offset = 0, 24
    while offset + 16 <= len(data):
        incl = int.from_bytes(data[offset + 8 : offset + 12], "little")
        offset += 16 + incl
        count += offset <= len(data)
    return count


def rtpengine_socket_drops(pid: int, seen: dict[str, int]) -> None:
    """Fold the kernel's drop counters of rtpengine's UDP sockets into ``seen`` (by inode).

    A socket's counter dies with it at the end of its call, so this is sampled
    while calls run. Only rtpengine's own sockets count: the phones' overflow
    by design (SIPp never reads the RTP it gets).
    """
    try:
        ports = {c.laddr.port for c in psutil.Process(pid).net_connections(kind="udp")}
    except psutil.Error:
        return
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        cols = line.split()
        if int(cols[1].split(":")[1], 16) in ports:
            seen[cols[9]] = max(seen.get(cols[9], 0), int(cols[-1]))


def run_phase(base: Path, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    settings = make_settings(
        base / phase,
        relay_enabled=phase != "none",
        kamailio_children=4,
        rtpengine_port_min=20000,
        rtpengine_port_max=29999,
        rtpengine_threads=2,
    )
    seed(settings)
    set_policy(settings, "always" if phase == "recorded" else "never")
    packets = int(args.seconds * 50)
    hold_ms = packets * 20 + 300
    rate = args.concurrent / (hold_ms / 1000)
    relay = RelayProcess(settings) if phase != "none" else None
    result: dict[str, Any] = {"phase": phase}
    try:
        if relay:
            relay.start()
        with KamailioProcess(settings) as kamailio, PcapCallee(packets=packets) as callee:
            reg = register(settings, [SipAccount("102", TENANT, PASSWORD)], callee.contact)
            assert reg.returncode == 0, reg.errors
            ng = ng_client(settings)
            before_stats = ng.request("statistics")["statistics"] if relay else {}
            peak = {"calls": 0}
            drops: dict[str, int] = {}
            done = threading.Event()

            def watch_peak() -> None:
                while not done.is_set():
                    if relay:
                        try:
                            now = ng.request("statistics")["statistics"]["currentstatistics"]
                            peak["calls"] = max(peak["calls"], now["sessionsown"])
                        except NGError:  # a missed sample is no result
                            pass
                        rtpengine_socket_drops(relay.pid or 0, drops)
                    time.sleep(0.25)

            sampler = threading.Thread(target=watch_peak, daemon=True)
            sampler.start()
            udp_before = udp_rcvbuf_errors()
            rtp_cpu0 = cpu_seconds([relay.pid]) if relay and relay.pid else 0.0
            kam_cpu0 = cpu_seconds([kamailio.pid or 0])
            callee_cpu0 = cpu_seconds([callee.pid]) if callee.pid else 0.0
            started = time.monotonic()
            outcome, _ = pcap_call(
                settings,
                SipAccount("101", TENANT, PASSWORD),
                SipAccount("102", TENANT, PASSWORD),
                packets=packets,
                hold_ms=hold_ms,
                calls=args.calls,
                rate=rate,
                timeout=args.calls / rate + hold_ms / 1000 + 60,
            )
            wall = time.monotonic() - started
            done.set()
            rtp_cpu = (cpu_seconds([relay.pid]) if relay and relay.pid else 0.0) - rtp_cpu0
            kam_cpu = cpu_seconds([kamailio.pid or 0]) - kam_cpu0
            callee_cpu = (cpu_seconds([callee.pid]) if callee.pid else 0.0) - callee_cpu0
            answered = sum(1 for line in outcome.log_lines if line.startswith("answered "))
            ended = sum(1 for line in outcome.log_lines if line.startswith("bye_ok "))
            sent = answered * 2 * packets
            call_seconds = answered * hold_ms / 1000
            result.update(
                placed=args.calls,
                answered=answered,
                ended_cleanly=ended,
                rate_per_s=round(rate, 2),
                wall_s=round(wall, 1),
                packets_sent=sent,
                # machine-wide, mostly the phones' own sockets (SIPp never reads RTP)
                udp_rcvbuf_errors_all=udp_rcvbuf_errors() - udp_before,
                kamailio_cpu_s=round(kam_cpu, 2),
                callee_sipp_cpu_s=round(callee_cpu, 2),
            )
            if relay:
                time.sleep(1.0)  # the last BYEs' deletes
                after = ng.request("statistics")["statistics"]["totalstatistics"]
                relayed = (
                    after["relayedpackets"] - before_stats["totalstatistics"]["relayedpackets"]
                )
                result.update(
                    peak_concurrent_calls=peak["calls"],
                    rtpengine_socket_drops=sum(drops.values()),
                    packets_relayed=relayed,
                    relay_loss=sent - relayed,
                    rtpengine_cpu_s=round(rtp_cpu, 2),
                    rtpengine_pct_core_per_call=round(100 * rtp_cpu / call_seconds, 3),
                    rtpengine_pct_core_at_peak=round(100 * rtp_cpu / wall, 1),
                )
            if phase == "recorded":
                pcaps = list((settings.recording_spool_dir / "pcaps").glob("*.pcap"))
                recorded = sum(count_pcap_records(p) for p in pcaps)
                result.update(
                    pcaps=len(pcaps), packets_recorded=recorded, record_loss=sent - recorded
                )
    finally:
        if relay:
            relay.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=6.0, help="audio per call and side")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--phases", default="none,relayed,recorded")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="relay-capacity-"))
    print(json.dumps({"load_avg_before": [round(x, 2) for x in psutil.getloadavg()]}))
    for phase in args.phases.split(","):
        print(json.dumps(run_phase(base, phase, args)), flush=True)
    print(json.dumps({"load_avg_after": [round(x, 2) for x in psutil.getloadavg()]}))


if __name__ == "__main__":
    main()
