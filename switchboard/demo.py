"""The demo tenant that `make run` seeds, so a newcomer has something to log in to.

Its passwords are printed and documented: it is a demo, never a real tenant.
"""

from __future__ import annotations

from switchboard.store import ProvisioningError, ProvisioningStore

DEMO_TIMEZONE = "America/New_York"
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
    return [
        f"demo tenant {domain}: log in as 100@{domain} (manager) or 101@{domain} (user),"
        f" portal password {DEMO_PORTAL_PASSWORD!r}; SIP password {DEMO_SIP_PASSWORD!r}",
    ]


def demo_sip_accounts(store: ProvisioningStore, domain: str) -> list[tuple[str, str, str]]:
    """(extension, domain, SIP password) of the demo users, for generated traffic."""
    demo_exts = {ext for ext, _, _ in DEMO_USERS}
    return [
        (u.extension, domain, DEMO_SIP_PASSWORD)
        for u in store.users(domain)
        if u.extension in demo_exts
    ]
