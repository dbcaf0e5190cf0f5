"""The demo tenant that `make run` seeds, so a newcomer has something to log in to.

Its passwords are printed and documented: it is a demo, never a real tenant.
"""

from __future__ import annotations

from datetime import date, time

from switchboard.rules import AnsweringRule, Destination
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.timeframes import DatePeriod, TimeFrame, WeeklyPeriod

DEMO_TIMEZONE = "America/New_York"
DEMO_MAIN_NUMBER = "+15550100"
DEMO_PORTAL_PASSWORD = "demo-portal-pw"
DEMO_SIP_PASSWORD = "demo-sip-pw-1"
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("100", "Maria Manager", "manager"),
    ("101", "Front Desk", "user"),
    ("102", "Bob Sales", "user"),
    ("103", "Sam Supervisor", "supervisor"),
    ("104", "Alex Agent", "agent"),
    ("105", "Kim Support", "agent"),
)


def seed_demo(store: ProvisioningStore, domain: str) -> list[str]:
    """Create the demo tenant and users unless they exist; say how to log in."""
    try:
        store.tenant(domain)
    except ProvisioningError:
        store.add_tenant(domain, DEMO_TIMEZONE, name="Acme Corp (demo)")
    existing = {u.extension for u in store.users(domain)}
    for ext, name, role in DEMO_USERS:
        if ext not in existing:
            store.add_user(
                tenant=domain,
                extension=ext,
                name=name,
                email=f"{name.split()[0].lower()}@{domain}",
                password=DEMO_PORTAL_PASSWORD,
                sip_password=DEMO_SIP_PASSWORD,
                role=role,
            )
    if not store.frames(domain):
        _seed_routing(store, domain)
    return [
        f"demo tenant {domain}: log in as 100@{domain} (manager) or 101@{domain} (user),"
        f" portal password {DEMO_PORTAL_PASSWORD!r}; SIP password {DEMO_SIP_PASSWORD!r}",
    ]


def _seed_routing(store: ProvisioningStore, domain: str) -> None:
    """Office hours, holidays, the manager's rules and a main number, so the rules pages
    and the after-hours analytics have something real to show. The manager (100) only
    places demo calls, so these rules never change what the demo traffic does."""
    weekdays = WeeklyPeriod(frozenset(range(5)), time(9), time(17))
    store.save_frame(domain, TimeFrame("Open Hours", DEMO_TIMEZONE, (weekdays,)))
    holidays = (
        DatePeriod(date(2026, 12, 24), date(2026, 12, 26)),
        DatePeriod(date(2027, 1, 1), date(2027, 1, 1)),
    )
    store.save_frame(domain, TimeFrame("Holidays", DEMO_TIMEZONE, holidays))
    manager = store.user(domain, "100")
    store.save_rule(manager, AnsweringRule("Holidays", 1, "Holidays", dnd=True))
    store.save_rule(
        manager,
        AnsweringRule(
            "Office", 2, "Open Hours", ring_seconds=20, simultaneous=("103",),
            forward_busy=Destination("extension", "101"),
        ),
    )  # fmt: skip
    store.save_rule(manager, AnsweringRule("After hours", 3, ring_seconds=10))
    did = store.add_did(domain, DEMO_MAIN_NUMBER, "Main line")
    to_voicemail = Destination("voicemail", "100")
    for name, priority, frame, dest in (
        ("Holidays", 1, "Holidays", to_voicemail),
        ("Open", 2, "Open Hours", Destination("extension", "101")),
        ("Closed", 3, None, to_voicemail),
    ):
        store.save_did_rule(did, AnsweringRule(name, priority, frame, forward_always=dest))


def demo_sip_accounts(store: ProvisioningStore, domain: str) -> list[tuple[str, str, str]]:
    """(extension, domain, SIP password) of the demo users, for generated traffic."""
    demo_exts = {ext for ext, _, _ in DEMO_USERS}
    return [
        (u.extension, domain, DEMO_SIP_PASSWORD)
        for u in store.users(domain)
        if u.extension in demo_exts
    ]
