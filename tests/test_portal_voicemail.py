"""Visual voicemail in the portal: who may list, play, download and delete, and 102's day.

One portal for the module over two messages in 102's box (``BROWSER_MSG`` for the
browser scenario, ``GUARDED_MSG`` for the access tests) and one in 101's, made the
way production makes them: spool items → pipeline ingest → transcript.
"""

from __future__ import annotations

import base64
import json
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.transcribe import Segment, Transcript, transcribe_pending
from pipeline.voicemail_ingest import ingest_voicemail
from switchboard.store import ProvisioningStore
from tests.fixtures.core import make_settings, seed
from tests.fixtures.portal import PortalServer, http_session, log_in, start_portal, stop_portal
from tests.fixtures.voicemail import Speech, write_spool_item

TRANSCRIPT = "Hi Bob, the invoice for the kitchen is ready, call me back."


class FixedTranscriber:
    model_name = "fixed"

    def transcribe(self, wav_path: Path) -> Transcript:
        return Transcript(TRANSCRIPT, [Segment(0.0, 2.0, TRANSCRIPT)], "en", 2.0, 0.3)


@dataclass
class VoicemailPortal:
    server: PortalServer
    browser_msg: str
    guarded_msg: str
    desk_msg: str

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def vm_portal(
    tmp_path_factory: pytest.TempPathFactory, speech: Speech
) -> Iterator[VoicemailPortal]:
    settings = make_settings(tmp_path_factory.mktemp("vm-portal") / "data")
    store = ProvisioningStore(settings.provisioning_db)
    seed(store)
    wav = speech("Hi Bob, the invoice for the kitchen is ready.")
    browser_msg = write_spool_item(settings, "acme.example", "102", wav, caller="101")
    guarded_msg = write_spool_item(settings, "acme.example", "102", wav, started_at=1.7e9)
    desk_msg = write_spool_item(settings, "acme.example", "101", wav)
    ingest_voicemail(settings, store)
    transcribe_pending(settings, store, FixedTranscriber())
    store.close()
    server = start_portal(settings)
    yield VoicemailPortal(server, browser_msg, guarded_msg, desk_msg)
    stop_portal(server)


def _state(vm: VoicemailPortal, mailbox: str, mid: str) -> tuple[str, bool]:
    store = ProvisioningStore(vm.server.settings.provisioning_db)
    try:
        msg = store.voicemail_message("acme.example", mailbox, mid)
        return msg.folder, msg.is_read
    finally:
        store.close()


# -- crafted callbacks ----------------------------------------------------------------------
def _callback(
    client: httpx.Client,
    output_has: str,
    inputs: list[Any],
    state: list[Any],
    changed: str,
) -> httpx.Response:
    """POST a callback exactly as the browser would (found by one of its output ids)."""
    deps = client.get("/_dash-dependencies").json()
    dep = next(d for d in deps if output_has in d["output"])
    parts = dep["output"].strip(".").split("...")
    outputs: Any = [{"id": p.split(".")[0], "property": p.split(".", 1)[1]} for p in parts]
    body = {
        "output": dep["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [changed],
        "state": state,
    }
    return client.post("/_dash-update-component", json=body)


def _list_messages(client: httpx.Client, box: str, folder: str = "inbox") -> httpx.Response:
    return _callback(
        client,
        "voicemail-list.children",
        [
            {"id": "voicemail-refresh", "property": "n_intervals", "value": 1},
            {"id": "voicemail-version", "property": "data", "value": 0},
            {"id": "voicemail-search", "property": "value", "value": ""},
            {"id": "voicemail-folder", "property": "value", "value": folder},
        ],
        [{"id": "voicemail-box", "property": "data", "value": box}],
        "voicemail-refresh.n_intervals",
    )


def _act(client: httpx.Client, box: str, action: str, mid: str) -> httpx.Response:
    button = {"action": action, "message": mid, "type": "voicemail-action"}
    return _callback(
        client,
        "voicemail-feedback.children",
        [[{"id": button, "property": "n_clicks", "value": 1}]],
        [
            [],
            [],
            {"id": "voicemail-box", "property": "data", "value": box},
            {"id": "voicemail-version", "property": "data", "value": 0},
        ],
        json.dumps(button, separators=(",", ":")) + ".n_clicks",
    )


def _upload(client: httpx.Client, name: str, data: bytes, box: str = "102") -> httpx.Response:
    contents = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    return _callback(
        client,
        "voicemail-greeting-feedback.children",
        [{"id": "voicemail-greeting-upload", "property": "contents", "value": contents}],
        [
            {"id": "voicemail-greeting-upload", "property": "filename", "value": name},
            {"id": "voicemail-greeting-kind", "property": "value", "value": "custom"},
            {"id": "voicemail-box", "property": "data", "value": box},
        ],
        "voicemail-greeting-upload.contents",
    )


# -- who may do what ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("login", "status"),
    [
        ("102@acme.example", 200),  # the owner
        ("100@acme.example", 200),  # a manager of the tenant
        ("101@acme.example", 404),  # a colleague
        ("103@acme.example", 404),  # a supervisor is not a manager
        ("100@globex.example", 404),  # another tenant's manager
    ],
)
def test_only_the_owner_and_a_manager_play_or_download_the_audio(
    vm_portal: VoicemailPortal, login: str, status: int
) -> None:
    with http_session(vm_portal.url, login) as client:
        for suffix in ("", "?download=1"):
            response = client.get(f"/voicemail/audio/{vm_portal.guarded_msg}{suffix}")
            assert response.status_code == status
            if status == 200:
                assert response.content[:4] == b"RIFF"
        ranged = client.get(
            f"/voicemail/audio/{vm_portal.guarded_msg}", headers={"Range": "bytes=0-99"}
        )
        assert ranged.status_code == (206 if status == 200 else 404)


def test_anonymous_audio_requests_go_to_the_login(vm_portal: VoicemailPortal) -> None:
    response = httpx.get(f"{vm_portal.url}/voicemail/audio/{vm_portal.guarded_msg}")
    assert response.status_code == 302 and "/login" in response.headers["location"]


def test_a_colleague_cannot_list_or_delete_102s_messages_by_callback(
    vm_portal: VoicemailPortal,
) -> None:
    mid = vm_portal.guarded_msg
    with http_session(vm_portal.url, "101@acme.example") as client:
        listing = _list_messages(client, "102")
        assert "You can only open your own mailbox" in listing.text
        assert mid not in listing.text
        assert vm_portal.desk_msg in _list_messages(client, "101").text  # own box works
        assert "You can only open your own mailbox" in _act(client, "102", "delete", mid).text
        own_box = _act(client, "101", "delete", mid)  # 102's message named in 101's box
        assert "No message" in own_box.text
        page = client.get("/voicemail?box=102")
        assert page.status_code == 200
    with http_session(vm_portal.url, "100@globex.example") as client:
        assert mid not in _list_messages(client, "102").text
        assert "no extension 102 in globex.example" in _act(client, "102", "delete", mid).text
    assert _state(vm_portal, "102", mid) == ("new", False)


def test_a_manager_lists_and_deletes_in_a_colleagues_mailbox(vm_portal: VoicemailPortal) -> None:
    mid = vm_portal.guarded_msg
    with http_session(vm_portal.url, "100@acme.example") as client:
        assert mid in _list_messages(client, "102").text
        assert "Moved to the trash" in _act(client, "102", "delete", mid).text
        assert _state(vm_portal, "102", mid)[0] == "trash"
        assert "Restored" in _act(client, "102", "restore", mid).text
    assert _state(vm_portal, "102", mid) == ("new", False)


def test_a_greeting_that_is_not_audio_is_refused_and_a_wav_is_converted(
    vm_portal: VoicemailPortal, tmp_path: Path, speech: Speech
) -> None:
    refused = "Greetings must be an MP3 or WAV audio file"
    with http_session(vm_portal.url, "102@acme.example") as client:
        assert refused in _upload(client, "notes.txt", b"hello there").text
        assert refused in _upload(client, "song.mp3", b"not really an mp3" * 50).text
        accepted = _upload(client, "hello.wav", speech("Hello, leave a message.").read_bytes())
        assert "Custom greeting saved" in accepted.text
        assert "You can only open your own mailbox" in _upload(client, "x.wav", b"", "101").text
    greeting = vm_portal.server.settings.data_dir / "greetings/acme.example/102/custom.wav"
    with wave.open(str(greeting)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)


# -- 102's day in the browser ---------------------------------------------------------------
@pytest.mark.browser
def test_102_plays_saves_deletes_and_restores_a_message(
    vm_portal: VoicemailPortal, page: Any
) -> None:
    from playwright.sync_api import expect

    mid = vm_portal.browser_msg
    log_in(page, vm_portal.url, "102@acme.example")
    expect(page.locator("#home-messages-count")).to_have_text("2 new messages")
    expect(page.locator("#home-messages-list")).to_contain_text("invoice for the kitchen")

    page.click("#shell-nav-voicemail")
    item = page.locator(f'[data-message-id="{mid}"]')
    expect(item).to_contain_text(TRANSCRIPT)
    expect(item).to_contain_text("Front Desk (101)")  # the caller matched to a colleague
    # preload="none": nothing is fetched (nor audited) until the listener presses play.
    duration = item.locator("audio").evaluate(
        """async (el) => {
            el.muted = true;
            await el.play();
            return el.duration;
        }"""
    )
    assert duration > 1.0
    ranged = page.request.get(
        f"{vm_portal.url}/voicemail/audio/{mid}", headers={"Range": "bytes=0-99"}
    )
    assert ranged.status == 206 and len(ranged.body()) == 100

    item.get_by_role("button", name="Mark read").click()
    expect(item).to_have_attribute("data-read", "1")
    item.get_by_role("button", name="Save").click()
    expect(item).to_have_attribute("data-folder", "saved")
    item.get_by_role("button", name="Delete").click()
    expect(item).to_have_count(0)
    page.get_by_text("Trash", exact=True).click()
    expect(item).to_have_attribute("data-folder", "trash")
    item.get_by_role("button", name="Restore").click()
    expect(item).to_have_count(0)
    page.get_by_text("Inbox", exact=True).click()
    expect(item).to_have_attribute("data-folder", "saved")
    assert _state(vm_portal, "102", mid) == ("saved", True)
