"""The one entry point of readers: the store says who is looking, the warehouse shows it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pipeline.viewer import open_for_viewer
from pipeline.warehouse import scope_of
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory


def test_a_tenant_is_seen_whole_in_its_zone_with_its_marks(
    settings: Settings, directory: Directory
) -> None:
    directory.store.mark_callback_handled("acme.example", "15550100", 1)
    with open_for_viewer(settings, "acme.example") as viewer:
        assert (viewer.tenant, viewer.timezone, viewer.extension) == (
            "acme.example",
            "America/New_York",
            None,
        )
        assert set(viewer.handled) == {"15550100"}
        scope = scope_of(viewer.conn)
        assert scope is not None and (scope.tenant, scope.extension) == ("acme.example", None)


def test_a_zone_given_by_the_caller_wins(settings: Settings, directory: Directory) -> None:
    with open_for_viewer(settings, "globex.example", timezone="Asia/Tokyo") as viewer:
        assert viewer.timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("login", "own_calls_only", "extension"),
    [
        ("100@acme.example", False, None),  # manager: the whole tenant
        ("103@acme.example", False, None),  # supervisor: the whole tenant
        ("101@acme.example", False, "101"),  # plain user: their calls
        ("100@acme.example", True, "100"),  # anyone, when asked for their own calls
    ],
)
def test_a_user_sees_what_their_role_allows(
    settings: Settings, directory: Directory, login: str, own_calls_only: bool, extension: str
) -> None:
    user = directory.users[login]
    with open_for_viewer(settings, user, own_calls_only=own_calls_only) as viewer:
        assert viewer.extension == extension
        scope = scope_of(viewer.conn)
        assert scope is not None and scope.extension == extension


def test_a_borrowed_store_is_lent_not_closed(settings: Settings, directory: Directory) -> None:
    lent = []

    @contextmanager
    def borrow() -> Iterator[ProvisioningStore]:
        lent.append(directory.store)
        yield directory.store

    user = directory.users["101@acme.example"]
    with open_for_viewer(settings, user, borrow_store=borrow) as viewer:
        assert viewer.timezone == user.timezone
    assert lent == [directory.store]
    assert directory.store.tenant("acme.example").domain == "acme.example"  # still open


def test_an_unknown_tenant_is_refused(settings: Settings, directory: Directory) -> None:
    with pytest.raises(ProvisioningError):
        open_for_viewer(settings, "nobody.example")
