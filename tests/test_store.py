import hashlib
import sqlite3

import pytest

from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory


def test_user_passwords_are_never_stored_in_clear(settings: Settings, directory: Directory) -> None:
    db = sqlite3.connect(settings.provisioning_db)
    hashes = [r[0] for r in db.execute("select password_hash from user")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    sub = db.execute(
        "select password, ha1 from subscriber where username = '101' and domain = 'acme.example'"
    ).fetchone()
    expected = hashlib.md5(f"101:acme.example:{Directory.SIP_PASSWORD}".encode()).hexdigest()
    assert sub == ("", expected)


def test_authenticate_accepts_the_right_password_only(directory: Directory) -> None:
    store = directory.store
    user = store.authenticate("101@acme.example", Directory.PASSWORD, "1.2.3.4", 5, 300)
    assert (user.name, user.role, user.tenant_domain) == ("Front Desk", "user", "acme.example")
    with pytest.raises(ProvisioningError, match="wrong extension@domain or password"):
        store.authenticate("101@acme.example", "nope-nope", "1.2.3.4", 5, 300)
    with pytest.raises(ProvisioningError, match="wrong"):
        store.authenticate("101@nowhere.example", Directory.PASSWORD, "1.2.3.4", 5, 300)


def test_failed_logins_are_rate_limited(directory: Directory) -> None:
    store = directory.store
    for _ in range(3):
        with pytest.raises(ProvisioningError, match="wrong"):
            store.authenticate("102@acme.example", "bad-password", "9.9.9.9", 3, 300)
    with pytest.raises(ProvisioningError, match="too many failed attempts"):
        store.authenticate("102@acme.example", Directory.PASSWORD, "9.9.9.9", 3, 300)
    # another address is not punished for the attacker's attempts
    assert store.authenticate("102@acme.example", Directory.PASSWORD, "1.1.1.1", 3, 300)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"extension": "1"}, "2 to 8 digits"),
        ({"extension": "101"}, "already exists"),
        ({"role": "admin"}, "role"),
        ({"password": "short"}, "at least 8"),
        ({"tenant": "nope.example"}, "no tenant"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_invalid_users_are_refused_with_a_reason(
    directory: Directory, kwargs: dict[str, str], message: str
) -> None:
    base = {
        "tenant": "acme.example",
        "extension": "150",
        "name": "New",
        "email": "n@acme.example",
        "password": "long-enough",
        "sip_password": "long-enough",
        "role": "user",
    }
    with pytest.raises(ProvisioningError, match=message):
        directory.store.add_user(**{**base, **kwargs})
    assert "150" not in {u.extension for u in directory.store.users("acme.example")}


def test_tenant_validation(directory: Directory) -> None:
    with pytest.raises(ProvisioningError, match="not a valid SIP domain"):
        directory.store.add_tenant("../etc", "UTC")
    with pytest.raises(ProvisioningError, match="already exists"):
        directory.store.add_tenant("acme.example", "UTC")


def test_migrations_apply_once(settings: Settings, directory: Directory) -> None:
    again = ProvisioningStore(settings.provisioning_db)
    assert len(again.users("acme.example")) == 4
    again.close()


def test_status_message(directory: Directory) -> None:
    user = directory.users["101@acme.example"]
    directory.store.set_status_message(user.id, "  At lunch until 2  ")
    assert directory.store.user("acme.example", "101").status_message == "At lunch until 2"
    with pytest.raises(ProvisioningError, match="140"):
        directory.store.set_status_message(user.id, "x" * 141)
