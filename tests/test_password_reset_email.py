"""A manager's password reset reaches the user by email when SMTP is set (issue 14).

The mail server is a real one (aiosmtpd, ``smtp_server``). From the portal the
manager clicks Reset on 149's row (the callback POSTed as Dash's renderer
does, to the shared in-process portal set to mail there): the page still
shows the code, says it was emailed, and the code in 149's inbox signs 149 in. The
CLI does the same; a server that cannot be reached is said, never a crash.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from cli import main as cli
from dash_app.auth import _EXTENSION_KEY as PORTAL_KEY
from pipeline.password_email import ResetEmailError, email_one_time_password
from switchboard.settings import Settings
from tests.fixtures.core import Directory, free_port
from tests.fixtures.portal import client_session

T = "acme.example"
CODE_RE = re.compile(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}")


def _body(message: Any) -> str:
    return bytes(message.get_payload(decode=True)).decode()


@pytest.fixture
def mailing_portal(client_portal: Any, smtp_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shared in-process portal, set to mail through ``smtp_server``, with user 149.

    149 exists for this test only (the shared portal's seeded users keep their
    passwords for the other tests) and is removed afterwards.
    """
    controller, _ = smtp_server
    extensions = client_portal.server.extensions
    state = extensions[PORTAL_KEY]
    mailing = dataclasses.replace(state.settings, smtp_host="127.0.0.1", smtp_port=controller.port)
    monkeypatch.setitem(extensions, PORTAL_KEY, dataclasses.replace(state, settings=mailing))
    with state.store_lock:
        state.store.add_user(
            tenant=T, extension="149", name="Rita Reset", email=f"149@{T}",
            password=Directory.PASSWORD, sip_password=Directory.SIP_PASSWORD,
        )  # fmt: skip
    try:
        yield client_portal
    finally:
        with state.store_lock:
            state.store.remove_user(T, "149", keep_days=-1)
            state.store.purge_removed_mailboxes()


def _click_reset(client: Any, ext: str) -> str:
    """POST the Users page's callback that the Reset button of ``ext``'s row fires."""
    deps = client.get("/_dash-dependencies").get_json()

    def is_reset(spec: dict[str, Any]) -> bool:
        return '"users-reset"' in spec["id"] and spec["property"] == "n_clicks"

    dep = next(d for d in deps if any(is_reset(i) for i in d["inputs"]))
    trigger = {"ext": ext, "type": "users-reset"}

    def entry(spec: dict[str, Any]) -> Any:
        if spec["id"].startswith("{"):  # the rows' buttons: only the one clicked
            clicked = [{"id": trigger, "property": "n_clicks", "value": 1}]
            return clicked if is_reset(spec) else []
        return {"id": spec["id"], "property": spec["property"], "value": 1}

    parts = dep["output"].strip(".").split("...")
    body = {
        "output": dep["output"],
        "outputs": [{"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts],
        "inputs": [entry(i) for i in dep["inputs"]],
        "state": [entry(s) for s in dep["state"]],
        "changedPropIds": [
            json.dumps(trigger, sort_keys=True, separators=(",", ":")) + ".n_clicks"
        ],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_data(as_text=True))


def test_a_reset_from_the_portal_is_shown_and_emailed_and_the_emailed_code_signs_in(
    mailing_portal: Any, smtp_server: Any
) -> None:
    _, inbox = smtp_server
    with client_session(mailing_portal, f"100@{T}") as manager:
        shown = _click_reset(manager, "149")
    assert f"Also emailed to 149@{T}." in shown
    code = _shown_code(json.loads(shown))
    [mail] = inbox.messages
    assert mail["To"] == f"149@{T}"
    assert code in _body(mail) and code not in mail["Subject"]
    # the emailed code is the one that signs 149 in (then a new password must be chosen)
    client = mailing_portal.server.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    login = {"login": f"149@{T}", "password": code, "csrf_token": token.group(1)}
    assert client.post("/login", data=login).status_code == 302


def _shown_code(tree: Any) -> str:
    """The text of the component ``users-reset-done-code`` in a callback's answer."""
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == "users-reset-done-code":
            return str(tree["props"]["children"])
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            found = _shown_code(item)
            if found:
                return found
    return ""


def test_the_cli_emails_the_code_too_and_says_when_it_cannot(
    settings: Settings,
    directory: Directory,
    smtp_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    controller, inbox = smtp_server
    monkeypatch.setenv("SWITCHBOARD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(settings.data_dir / "none.toml"))
    monkeypatch.setenv("SWITCHBOARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SWITCHBOARD_SMTP_PORT", str(controller.port))
    assert cli.main(["user", "passwd", "102", "--tenant", T]) == 0
    out, err = capsys.readouterr()
    [mail] = inbox.messages
    assert out.strip() in _body(mail) and mail["To"] == f"102@{T}"
    assert f"emailed to 102@{T}" in err

    monkeypatch.setenv("SWITCHBOARD_SMTP_PORT", str(free_port()))  # nobody listens
    assert cli.main(["user", "passwd", "102", "--tenant", T]) == 0
    out, err = capsys.readouterr()
    assert CODE_RE.fullmatch(out.strip()) and "not emailed: the mail server" in err
    assert len(inbox.messages) == 1


def test_without_smtp_or_an_address_nothing_is_sent(
    settings: Settings, directory: Directory
) -> None:
    user = directory.users[f"101@{T}"]
    assert email_one_time_password(settings, user, "abcd-efgh-jkmn", hours=1) is None
    mailing = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=free_port())
    no_address = dataclasses.replace(user, email="")
    assert email_one_time_password(mailing, no_address, "abcd-efgh-jkmn", hours=1) is None
    with pytest.raises(ResetEmailError, match="cannot be reached"):
        email_one_time_password(mailing, user, "abcd-efgh-jkmn", hours=1)
