"""Main numbers come from the operator: managers pick from their allocation, never claim others."""

from __future__ import annotations

from typing import Any

import pytest

from cli import main as cli
from switchboard.store import ProvisioningError
from tests.fixtures.core import Directory
from tests.fixtures.portal import client_session, page_layout

ACME, GLOBEX = "acme.example", "globex.example"


def test_a_manager_adds_only_numbers_allocated_to_the_company(directory: Directory) -> None:
    store = directory.store
    store.allocate_did(ACME, "+15557000001")
    store.allocate_did(ACME, "+15557000001")  # again: no change
    store.allocate_did(GLOBEX, "+15557000002")
    assert store.allocated_numbers(ACME) == ["+15557000001"]
    with pytest.raises(ProvisioningError, match="not allocated to your company"):
        store.add_did(ACME, "+15557000099", "Never allocated", allocated_only=True)
    with pytest.raises(ProvisioningError, match="not allocated to your company"):
        store.add_did(ACME, "+15557000002", "Globex's", allocated_only=True)
    did = store.add_did(ACME, "+15557000001", "Main line", allocated_only=True)
    assert did.tenant_domain == ACME
    assert store.allocated_numbers(ACME) == []  # on the list now, no longer on offer
    with pytest.raises(ProvisioningError, match="allocated to another tenant"):
        store.allocate_did(GLOBEX, "+15557000001")


def test_the_operators_add_allocates_but_never_takes_another_tenants_number(
    directory: Directory,
) -> None:
    store = directory.store
    store.add_did(ACME, "+15557000003", "Added by the operator")
    with pytest.raises(ProvisioningError, match="allocated to another tenant"):
        store.allocate_did(GLOBEX, "+15557000003")
    store.allocate_did(GLOBEX, "+15557000004")
    with pytest.raises(ProvisioningError, match="allocated to another tenant"):
        store.add_did(ACME, "+15557000004", "Not ours")


@pytest.mark.usefixtures("env")  # the command line reads this test's settings
def test_switchboard_did_allocate(directory: Directory, capsys: Any) -> None:
    assert cli.main(["did", "allocate", "+15557000005", "--tenant", ACME]) == 0
    assert "allocated to acme.example" in capsys.readouterr().out
    assert cli.main(["did", "allocate", "+15557000005", "--tenant", GLOBEX]) == 2
    assert "allocated to another tenant" in capsys.readouterr().err
    assert directory.store.allocated_numbers(ACME) == ["+15557000005"]


def _add_number(client: Any, number: str) -> Any:
    return client.post(
        "/_dash-update-component",
        json={
            "output": "..numbers-version.data...numbers-notice.children..."
            "numbers-new-number.value...numbers-new-name.value...numbers-new-number.data..",
            "outputs": [
                {"id": "numbers-version", "property": "data"},
                {"id": "numbers-notice", "property": "children"},
                {"id": "numbers-new-number", "property": "value"},
                {"id": "numbers-new-name", "property": "value"},
                {"id": "numbers-new-number", "property": "data"},
            ],
            "inputs": [{"id": "numbers-add", "property": "n_clicks", "value": 1}],
            "state": [
                {"id": "numbers-new-number", "property": "value", "value": number},
                {"id": "numbers-new-name", "property": "value", "value": "Claimed"},
                {"id": "numbers-version", "property": "data", "value": 0},
            ],
            "changedPropIds": ["numbers-add.n_clicks"],
        },
    )


def test_the_portal_never_claims_an_unallocated_number(client_portal: Any) -> None:
    """POSTed straight to Dash: a manager's crafted number is refused unless allocated."""
    state = client_portal.server.extensions["switchboard_portal"]
    with state.store_lock:
        state.store.allocate_did(ACME, "+15557000010")
        state.store.allocate_did(GLOBEX, "+15557000011")
    with client_session(client_portal, "100@acme.example") as manager:
        layout = page_layout(manager, "/numbers").get_data(as_text=True)
        assert "+15557000010" in layout and "+15557000011" not in layout  # offered: ours only
        for number in ("+15557000099", "+15557000011"):
            refused = _add_number(manager, number).get_data(as_text=True)
            assert "not allocated to your company" in refused
        added = _add_number(manager, "+15557000010").get_json()["response"]
        assert added["numbers-notice"]["children"]["props"]["id"] == "numbers-added"
        assert "+15557000010" not in added["numbers-new-number"]["data"]  # no longer on offer
    with state.store_lock:
        assert [d.number for d in state.store.dids(ACME)].count("+15557000010") == 1
        assert "+15557000099" not in {d.number for d in state.store.dids(ACME)}
