import hashlib
import sqlite3

import pytest

from switchboard.report_schedules import ReportSchedule
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.connection import integrity_message
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


def test_a_duplicate_schedule_is_refused_by_name(directory: Directory) -> None:
    store = directory.store
    night = ReportSchedule("acme.example", "Nightly", "calls", "csv", "0 2 * * *", "UTC")
    store.add_schedule(night)
    with pytest.raises(ProvisioningError, match="a schedule named 'Nightly' exists"):
        store.add_schedule(night)
    assert [s.name for s in store.schedules("acme.example")] == ["Nightly"]


def test_a_constraint_the_schema_enforces_is_refused_with_a_sentence(
    settings: Settings, directory: Directory
) -> None:
    """Another writer's row (here a bare SIP account) hits UNIQUE; the store says what clashed."""
    db = sqlite3.connect(settings.provisioning_db)
    with db:
        db.execute(
            "insert into subscriber (username, domain, ha1, ha1b) values ('150', 'acme.example',"
            " 'x', 'y')"
        )
    db.close()
    with pytest.raises(
        ProvisioningError, match=r"^a SIP account with this username and domain already exists$"
    ):
        directory.store.add_user(
            tenant="acme.example",
            extension="150",
            name="New",
            email="n@acme.example",
            password="long-enough",
            sip_password="long-enough",
        )
    # the transaction was rolled back: no portal user without its SIP account
    assert "150" not in {u.extension for u in directory.store.users("acme.example")}


@pytest.mark.parametrize(
    ("sqlite_message", "sentence"),
    [
        ("UNIQUE constraint failed: tenant.domain", "a tenant with this domain already exists"),
        (
            "UNIQUE constraint failed: user.tenant_id, user.extension",
            "a user with this extension already exists",
        ),
        (
            "UNIQUE constraint failed: time_frame.tenant_id, time_frame.user_id, time_frame.name",
            "a time frame with this name already exists",
        ),
        (
            "UNIQUE constraint failed: answering_rule.user_id, answering_rule.name",
            "a rule with this name already exists",
        ),
        ("UNIQUE constraint failed: did.number", "a main number with this number already exists"),
        (
            "UNIQUE constraint failed: did_rule.did_id, did_rule.name",
            "a main number route with this name already exists",
        ),
        (
            "UNIQUE constraint failed: report_schedule.tenant_id, report_schedule.name",
            "a schedule with this name already exists",
        ),
        ("NOT NULL constraint failed: did.name", "the main number needs a name"),
        ("CHECK constraint failed: folder in ('new', 'saved')", "a value is not allowed"),
        (
            "FOREIGN KEY constraint failed",
            "it is still in use, or refers to something that no longer exists",
        ),
    ],
)
def test_integrity_errors_read_as_sentences(sqlite_message: str, sentence: str) -> None:
    assert integrity_message(sqlite3.IntegrityError(sqlite_message)) == sentence


def test_wrong_phone_pins_across_calls_lock_the_mailbox_until_the_lock_expires(
    directory: Directory,
) -> None:
    from switchboard.store import PinLockPolicy

    store = directory.store
    policy = PinLockPolicy(max_failures=3, window_seconds=600, lock_seconds=1800)
    store.set_voicemail_pin("acme.example", "102", "4826")
    check = store.check_voicemail_pin

    # Two wrong, then right: the count starts again; old failures leave the window.
    assert not check("acme.example", "102", "0000", policy, now=1000)
    assert not check("acme.example", "102", "0001", policy, now=1001)
    assert check("acme.example", "102", "4826", policy, now=1002)
    assert not check("acme.example", "102", "0002", policy, now=1003)
    assert not check("acme.example", "102", "0003", policy, now=1004)
    assert not check("acme.example", "102", "0004", policy, now=1700)  # 1003, 1004 too old
    assert store.pin_lock("acme.example", "102", now=1700) is None

    # Three wrong within the window, whatever the calls: locked; the right PIN is refused.
    assert not check("acme.example", "102", "0005", policy, now=1710)
    assert not check("acme.example", "102", "0006", policy, now=1720)
    lock = store.pin_lock("acme.example", "102", now=1721)
    assert lock is not None and (lock.locked_until, lock.failures) == (1720 + 1800, 3)
    assert not check("acme.example", "102", "4826", policy, now=1730)
    assert store.verify_voicemail_pin("acme.example", "102", "4826")  # the PIN itself is fine
    assert store.pin_lock("acme.example", "101", now=1730) is None  # other boxes are open
    assert store.pin_lock("globex.example", "102", now=1730) is None

    # Expired: the right PIN opens again, and counting starts from zero.
    assert store.pin_lock("acme.example", "102", now=3520) is None
    assert check("acme.example", "102", "4826", policy, now=3520)

    # Locked again, lifted by the owner or a manager: open at once.
    for t in (4000, 4001, 4002):
        check("acme.example", "102", "1357", policy, now=t)
    assert store.pin_lock("acme.example", "102", now=4003) is not None
    store.unlock_pin("acme.example", "102")
    assert store.pin_lock("acme.example", "102", now=4003) is None
    assert check("acme.example", "102", "4826", policy, now=4004)


def test_unknown_mailboxes_and_mailboxes_without_pin_open_for_nobody(
    directory: Directory,
) -> None:
    from switchboard.store import PinLockPolicy

    store = directory.store
    policy = PinLockPolicy(max_failures=1, window_seconds=60, lock_seconds=60)
    assert not store.check_voicemail_pin("acme.example", "199", "4826", policy)
    assert not store.check_voicemail_pin("nowhere.example", "102", "4826", policy)
    assert not store.check_voicemail_pin("acme.example", "101", "4826", policy)  # no PIN set
    with pytest.raises(ProvisioningError, match="no extension"):
        store.unlock_pin("acme.example", "199")


def test_pins_checked_from_many_threads_at_once_are_all_counted(directory: Directory) -> None:
    """The media server checks PINs in worker threads over one connection: writes serialise."""
    from concurrent.futures import ThreadPoolExecutor

    from switchboard.store import PinLockPolicy

    store = directory.store
    store.set_voicemail_pin("acme.example", "102", "4826")
    policy = PinLockPolicy(max_failures=40, window_seconds=600, lock_seconds=60)
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda i: store.check_voicemail_pin("acme.example", "102", "1357", policy),
                     range(40))
        )  # fmt: skip
    assert not any(results)
    lock = store.pin_lock("acme.example", "102")
    assert lock is not None and lock.failures == 40


@pytest.mark.parametrize("value", [["101"], {"a": 1}, ("1", "2"), 10**30, -(2**64)])
def test_a_value_sqlite_cannot_bind_is_the_users_error(
    store: ProvisioningStore, value: object
) -> None:
    """A crafted page input (a list for an extension, an id of 1e30) reached SQLite and was a
    500 (``ProgrammingError``/``OverflowError``); the store refuses it as the user's error."""
    with pytest.raises(ProvisioningError, match=r"too large|one value was expected"):
        store.user("acme.example", value)  # type: ignore[arg-type]
    with pytest.raises(ProvisioningError, match=r"too large|one value was expected"):
        store.queue("acme.example", value)  # type: ignore[arg-type]
    assert store.user("acme.example", "101").extension == "101"  # good values still bind
