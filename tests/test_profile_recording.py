"""Profile → Call recording: a user's own choice where the policy allows, read-only elsewhere.

The store rules first (no servers), then the page over HTTP against a real
Kamailio: the choice lands in ``recpol`` at once, and a crafted POST naming a
colleague is a 403.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kamailio.launcher import KamailioProcess
from kamailio.rpc import RPCFault
from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory
from tests.fixtures.portal import PortalServer, http_session, page_layout, start_portal, stop_portal

T = "acme.example"


def _policy_rows(store: ProvisioningStore) -> dict[str, str]:
    return {f"{p.scope}:{p.target}": p.mode for p in store.recording_policies(T)}


def test_only_an_on_demand_company_lets_users_choose_and_a_managers_row_stays_read_only(
    directory: Directory,
) -> None:
    store = directory.store
    me = directory.users[f"103@{T}"]
    assert store.own_recording(me).choices == ()  # a tenant without a policy records nothing
    with pytest.raises(ProvisioningError, match="your company records no calls"):
        store.set_own_recording(me, "always")

    store.set_recording_policy(T, "tenant", "on_demand")
    assert store.own_recording(me).choices == ("always", "on_demand")
    with pytest.raises(ProvisioningError, match="'never' is not a choice here"):
        store.set_own_recording(me, "never")
    assert store.set_own_recording(me, "always").mode == "always"
    assert store.recording_mode(T, caller="103", callee="+15550001111") == "always"
    assert store.own_recording(me).choices  # still mine to change
    assert store.set_own_recording(me, "on_demand").mode == "on_demand"
    assert "user:103" not in _policy_rows(store)  # back to following the company

    # a manager's row (CLI `user edit --recording`) is not the user's to undo
    store.set_own_recording(me, "always")
    store.set_recording_policy(T, "user", "always", "103")
    own = store.own_recording(me)
    assert (own.mode, own.choices, own.reason) == (
        "always", (), "a manager set how your calls are recorded"
    )  # fmt: skip
    with pytest.raises(ProvisioningError, match="a manager set"):
        store.set_own_recording(me, "on_demand")
    store.set_recording_policy(T, "user", None, "103")

    # the company stops recording on demand: own choices go, a manager's stays
    store.set_own_recording(me, "always")
    store.set_recording_policy(T, "user", "never", "102")
    store.set_recording_policy(T, "tenant", "never")
    assert _policy_rows(store) == {"tenant:": "never", "user:102": "never"}
    assert store.recording_mode(T, caller="103", callee="+15550001111") == "never"
    assert store.own_recording(me).reason == "your company records no calls"


@pytest.fixture
def profile_portal(kamailio: KamailioProcess) -> Iterator[PortalServer]:
    """The portal on the running Kamailio's settings (it reloads ``recpol`` there)."""
    server = start_portal(kamailio.settings)
    yield server
    stop_portal(server)


def _save(client: httpx.Client, mode: str, owner: str) -> httpx.Response:
    """Profile's recording Save, POSTed as the browser does (``owner``: the card's Store)."""
    return client.post(
        "/_dash-update-component",
        json={
            "output": "..profile-recording-feedback.children...profile-recording-now.children..",
            "outputs": [
                {"id": "profile-recording-feedback", "property": "children"},
                {"id": "profile-recording-now", "property": "children"},
            ],
            "inputs": [{"id": "profile-recording-save", "property": "n_clicks", "value": 1}],
            "state": [
                {"id": "profile-recording", "property": "value", "value": mode},
                {"id": "profile-recording-owner", "property": "data", "value": owner},
            ],
            "changedPropIds": ["profile-recording-save.n_clicks"],
        },
    )


def _card(client: httpx.Client) -> dict[str, Any]:
    """The recording card's policy text and its data attributes, from the Profile layout."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and props.get("id") == "profile-recording-policy":
                found.append(props)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    response = page_layout(client, "/profile")
    assert response.status_code == 200, response.text
    walk(json.loads(response.text))
    assert found, "no recording card on Profile"
    return found[0]


def _kamailio_mode(kamailio: KamailioProcess, key: str) -> str | None:
    try:
        return str(kamailio.rpc.call("htable.get", "recpol", key)["item"]["value"])
    except RPCFault:  # no such key
        return None


@pytest.mark.kamailio
def test_profile_choice_reaches_kamailio_and_no_one_else_s_can_be_changed(
    directory: Directory, kamailio: KamailioProcess, profile_portal: PortalServer
) -> None:
    store = directory.store
    store.set_recording_policy(T, "tenant", "on_demand")
    store.set_recording_policy(T, "user", "never", "102")  # the manager's, for 102
    with http_session(profile_portal.url, f"103@{T}") as me:
        card = _card(me)
        assert (card["data-mode"], card["data-editable"]) == ("on_demand", "1")

        saved = _save(me, "always", "103")
        assert saved.status_code == 200 and "profile-recording-saved" in saved.text
        assert "Always: every call of mine is recorded" in saved.text
        assert _kamailio_mode(kamailio, f"user:{T}:103") == "always"
        assert _kamailio_mode(kamailio, f"tenant:{T}") == "on_demand"

        # another user's id: refused outright, 102's row untouched
        crafted = _save(me, "always", "102")
        assert crafted.status_code == 403
        assert _policy_rows(store)["user:102"] == "never"
        # not on offer: a clear refusal, nothing changed
        refused = _save(me, "never", "103")
        assert refused.status_code == 200 and "is not a choice here" in refused.text
        assert _kamailio_mode(kamailio, f"user:{T}:103") == "always"

        assert _save(me, "on_demand", "103").status_code == 200
        assert _kamailio_mode(kamailio, f"user:{T}:103") is None  # follows the company again

    with http_session(profile_portal.url, f"102@{T}") as colleague:
        card = _card(colleague)
        assert (card["data-mode"], card["data-editable"]) == ("never", "0")
        assert "A manager set how your calls are recorded" in card["children"]
        refused = _save(colleague, "always", "102")
        assert refused.status_code == 200 and "you cannot change" in refused.text.lower()
        assert _kamailio_mode(kamailio, f"user:{T}:102") == "never"
