"""Library audio is the tenant's own, at every level (audit findings F1 and F1b).

A manager of acme pointed acme's menu greeting at globex's voicemail
(``voicemail/globex.example/101/<id>.wav``) or a call recording by sending
that path as the editor's greeting value, routed a main number to the menu
and heard it by calling in. Now:

- the portal takes from the browser a content digest at most, and rebuilds the
  path from the signed-in manager's tenant (a path, or another tenant's digest,
  is refused and nothing is stored);
- the store refuses any audio path that is not the tenant's own library file
  of the right kind (menus, announcements, hold music, voicemail greetings);
- the media server plays only the calling tenant's own library files: a row
  stored with a foreign path before the fix speaks its text, or the default
  hold music plays.
"""

from __future__ import annotations

import asyncio
import base64
import json
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dash_app.attendants_form import greeting_file_from_form
from media import prompts
from media.attendant import MenuWalk
from media.audio_library import AudioError, library_pcm
from media.hold_music import DEFAULT_TRACK, hold_track
from switchboard.attendants import Announcement, Attendant, AttendantError, MenuDestination
from switchboard.library_paths import (
    DIGEST_CHARS,
    is_library_path,
    library_digest,
    library_relpath,
)
from switchboard.store import ProvisioningError, ProvisioningStore
from tests.fixtures.core import Directory
from tests.fixtures.portal import client_session

ACME, GLOBEX = "acme.example", "globex.example"
DIGEST = "0123456789abcdef0123"
OTHER_DIGEST = "fedcba9876543210fedc"
GLOBEX_VOICEMAIL = "voicemail/globex.example/101/vm-1.wav"
GLOBEX_RECORDING = "recordings/globex-call-1.wav"
# Paths that are not acme's greeting: another tenant's audio, another kind, tricks on the text.
FOREIGN_GREETINGS = [
    GLOBEX_VOICEMAIL,
    GLOBEX_RECORDING,
    f"audio/{GLOBEX}/greeting-{DIGEST}.wav",
    f"audio/{ACME}/announcement-{DIGEST}.wav",
    f"audio/{ACME}/../{GLOBEX}/greeting-{DIGEST}.wav",
    f"./audio/{ACME}/greeting-{DIGEST}.wav",
    f"/srv/data/audio/{ACME}/greeting-{DIGEST}.wav",
    f"audio/{ACME}/greeting-{DIGEST.upper()}.wav",
    f"audio/{ACME}/greeting-{DIGEST}x.wav",
    f"audio/{ACME}/greeting-{DIGEST}.wav\n",
    f"audio/{ACME}/sub/greeting-{DIGEST}.wav",
]


def tone_wav(path: Path, hz: float, *, seconds: float = 1.0) -> Path:
    """An 8 kHz mono WAV of a ``hz`` tone (what the library keeps)."""
    t = np.arange(int(seconds * 8000)) / 8000
    pcm = (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)
    return path


# -- the one check ------------------------------------------------------------------------------
def test_only_the_tenants_own_library_path_of_the_kind_passes() -> None:
    own = library_relpath(ACME, "greeting", DIGEST).as_posix()
    assert own == f"audio/{ACME}/greeting-{DIGEST}.wav" and len(DIGEST) == DIGEST_CHARS
    assert library_digest(ACME, "greeting", own) == DIGEST and is_library_path(
        ACME, "greeting", own
    )
    for path in FOREIGN_GREETINGS:
        assert not is_library_path(ACME, "greeting", path), path
    assert not is_library_path(ACME, "greeting", None)
    assert not is_library_path(ACME, "greeting", "")


# -- the store ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", FOREIGN_GREETINGS)
def test_the_store_refuses_a_menu_greeting_not_of_the_tenants_library(
    store: ProvisioningStore, path: str
) -> None:
    menu = Attendant(ACME, "Stolen", greeting_text="Hi", greeting_file=path)
    with pytest.raises(ProvisioningError, match="not a recording of your company's audio library"):
        store.save_attendant(menu)
    assert store.attendants(ACME) == []


def test_the_store_refuses_a_foreign_greeting_on_an_existing_menu_too(
    store: ProvisioningStore,
) -> None:
    own = f"audio/{ACME}/greeting-{DIGEST}.wav"
    menu = store.save_attendant(Attendant(ACME, "Day", greeting_text="Hi", greeting_file=own))
    with pytest.raises(ProvisioningError, match="the menu's greeting is not a recording"):
        store.save_attendant(Attendant(**{**menu.__dict__, "greeting_file": GLOBEX_VOICEMAIL}))
    assert store.attendant(ACME, menu.id or 0).greeting_file == own


@pytest.mark.parametrize(
    "path",
    [GLOBEX_VOICEMAIL, GLOBEX_RECORDING, f"audio/{GLOBEX}/announcement-{DIGEST}.wav",
     f"audio/{ACME}/greeting-{DIGEST}.wav"],
)  # fmt: skip
def test_the_store_refuses_a_foreign_announcement(store: ProvisioningStore, path: str) -> None:
    with pytest.raises(ProvisioningError, match="the announcement is not a recording"):
        store.save_announcement(Announcement(ACME, "Closed", "We are closed.", path))
    own = f"audio/{ACME}/announcement-{DIGEST}.wav"
    assert store.save_announcement(Announcement(ACME, "Closed", "x", own)).audio_file == own


@pytest.mark.parametrize(
    "path",
    [GLOBEX_VOICEMAIL, GLOBEX_RECORDING, f"audio/{GLOBEX}/hold-{DIGEST}.wav",
     f"audio/{ACME}/greeting-{DIGEST}.wav", "", "hold.wav"],
)  # fmt: skip
def test_the_store_refuses_foreign_hold_music(store: ProvisioningStore, path: str) -> None:
    with pytest.raises(ProvisioningError, match="the hold-music track is not a recording"):
        store.add_hold_music(ACME, "Jazz", path)
    assert store.hold_music(ACME) == []
    own = f"audio/{ACME}/hold-{DIGEST}.wav"
    assert store.add_hold_music(ACME, "Jazz", own).audio_file == own


def test_a_voicemail_greeting_must_be_the_mailboxes_own(
    directory: Directory, tmp_path: Path
) -> None:
    store = directory.store
    data_dir = store.path.parent
    for path in (
        f"greetings/{GLOBEX}/101/custom.wav",  # another tenant's box
        f"greetings/{ACME}/101/custom.wav",  # a colleague's box
        f"greetings/{ACME}/100/busy.wav",  # the box's other greeting
    ):
        with pytest.raises(ProvisioningError, match="is not mailbox 100's custom greeting"):
            store.set_greeting(ACME, "100", "custom", path)
        with pytest.raises(ProvisioningError, match="is not mailbox 100's custom greeting"):
            store.set_greeting(ACME, "100", "custom", data_dir / path)
    assert store.mailbox_settings(ACME, "100").greetings == {}
    store.set_greeting(ACME, "100", "custom", f"greetings/{ACME}/100/custom.wav")
    assert store.mailbox_settings(ACME, "100").greetings == {
        "custom": f"greetings/{ACME}/100/custom.wav"
    }
    store.update_mailbox_settings(ACME, "100", greeting="custom")
    assert store.mailbox_settings(ACME, "100").active_greeting == str(
        data_dir / f"greetings/{ACME}/100/custom.wav"
    )
    # a row written before set_greeting checked: the caller hears the default, not it
    store._db.execute(
        "update voicemail_box set greeting_custom = ? where mailbox = '100'",
        (f"greetings/{GLOBEX}/101/custom.wav",),
    )
    assert store.mailbox_settings(ACME, "100").active_greeting is None


# -- the media server ----------------------------------------------------------------------------
def test_library_pcm_plays_only_the_calling_tenants_own_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    own = library_relpath(ACME, "greeting", DIGEST).as_posix()
    tone_wav(data_dir / own, 440)
    theirs = library_relpath(GLOBEX, "greeting", DIGEST).as_posix()
    tone_wav(data_dir / theirs, 660)
    tone_wav(data_dir / GLOBEX_VOICEMAIL, 880)
    assert len(library_pcm(data_dir, ACME, "greeting", own)) == 8000 * 2
    for path in (theirs, GLOBEX_VOICEMAIL, f"audio/{ACME}/../{theirs[len('audio/') :]}"):
        with pytest.raises(AudioError, match=f"not in the audio library of {ACME}"):
            library_pcm(data_dir, ACME, "greeting", path)
    with pytest.raises(AudioError):  # the right tenant, the wrong kind
        library_pcm(data_dir, ACME, "announcement", own)
    assert len(library_pcm(data_dir, GLOBEX, "greeting", theirs)) == 8000 * 2


def test_a_link_in_the_tenants_folder_does_not_lead_out_of_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    voicemail = tone_wav(data_dir / GLOBEX_VOICEMAIL, 880)
    link = data_dir / library_relpath(ACME, "greeting", DIGEST)
    link.parent.mkdir(parents=True)
    link.symlink_to(voicemail)
    with pytest.raises(AudioError, match="not in the audio library"):
        library_pcm(data_dir, ACME, "greeting", link.relative_to(data_dir).as_posix())


@dataclass
class ListeningLeg:
    """A caller who hears (keeps) what is played, then hangs up at the first prompt for a key."""

    call_id: str = "call-1"
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str | None = None
    heard: list[bytes] = field(default_factory=list)

    async def play(self, pcm: bytes, *, interruptible: bool = False) -> bool:
        self.heard.append(pcm)
        return True

    async def read_digits(self, **_: Any) -> str | None:
        self.ended.set()
        self.end_reason = "hangup"
        return None


@dataclass
class OneMenu:
    menu: Attendant

    def attendant(self, tenant: str, attendant_id: int) -> Attendant | None:
        return self.menu if tenant == self.menu.tenant else None

    def announcement(self, tenant: str, announcement_id: int) -> Announcement | None:
        return None

    def has_extension(self, tenant: str, extension: str) -> bool:
        return False

    def hold_music_file(self, tenant: str) -> str | None:
        return None


def test_a_menu_stored_with_a_foreign_greeting_speaks_its_text_instead(
    media_audio_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row saved before the fix (straight in the DB) plays none of globex's voicemail."""
    tone_wav(media_audio_dir / GLOBEX_VOICEMAIL, 880)
    menu = Attendant(ACME, "Stolen", greeting_text="Welcome.", greeting_file=GLOBEX_VOICEMAIL, id=1)
    leg = ListeningLeg()

    async def unused(*_: Any) -> Any:
        raise AssertionError("the caller hangs up in the menu")

    walk = MenuWalk(leg, ACME, OneMenu(menu), media_audio_dir, unused, unused)  # type: ignore[arg-type]
    asyncio.run(walk.run(MenuDestination("attendant", "1")))
    assert leg.heard[0] == prompts.speech_pcm(media_audio_dir, "Welcome.")
    assert prompts.read_wav_pcm(media_audio_dir / GLOBEX_VOICEMAIL) not in leg.heard
    assert "not in its library" in caplog.text


def test_hold_music_plays_only_the_tenants_own_track(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    own = library_relpath(ACME, "hold", DIGEST).as_posix()
    tone_wav(data_dir / own, 440)
    theirs = library_relpath(GLOBEX, "hold", DIGEST).as_posix()
    tone_wav(data_dir / theirs, 660)
    tone_wav(data_dir / GLOBEX_RECORDING, 880)
    assert hold_track(data_dir, ACME, own) == (data_dir / own).resolve()
    default = data_dir / DEFAULT_TRACK
    for path in (theirs, GLOBEX_RECORDING, f"audio/{ACME}/hold-{OTHER_DIGEST}.wav", None):
        assert hold_track(data_dir, ACME, path) == default, path


# -- the portal ----------------------------------------------------------------------------------
def test_the_form_rebuilds_the_greeting_path_from_the_tenant(tmp_path: Path) -> None:
    own = tone_wav(tmp_path / library_relpath(ACME, "greeting", DIGEST), 440)
    assert greeting_file_from_form(tmp_path, ACME, DIGEST) == own.relative_to(tmp_path).as_posix()
    assert greeting_file_from_form(tmp_path, ACME, "") == ""
    assert greeting_file_from_form(tmp_path, ACME, None) == ""
    tone_wav(tmp_path / library_relpath(GLOBEX, "greeting", OTHER_DIGEST), 660)
    for sent in (GLOBEX_VOICEMAIL, OTHER_DIGEST, f"../{DIGEST}", DIGEST.upper(), 12, ["x"]):
        with pytest.raises(AttendantError, match="upload it again"):
            greeting_file_from_form(tmp_path, ACME, sent)


def _post_save(client: Any, name: str, greeting: Any) -> str:
    """Press Save in the menu editor with ``greeting`` as the editor's greeting value.

    The greeting value is found by position (the editor's third field), whatever
    its id, so the browser's attack of F1 is replayed against the page as it is.
    """
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(
        d for d in deps if any(i["id"] == "attendants-save" for i in d["inputs"])
    )  # the save callback
    values = {
        "attendants-editing": None,
        "attendants-name": name,
        "attendants-greeting-text": "Welcome to acme.",
        "attendants-timeout": 5,
        "attendants-repeats": 2,
        "attendants-version": 0,
    }

    def entry(spec: dict[str, Any]) -> Any:
        if spec["id"].startswith("{"):  # the key pickers: none, every outcome hangs up
            return []
        if spec["id"].startswith("attendants-greeting-") and spec["property"] == "data":
            return {"id": spec["id"], "property": "data", "value": greeting}
        return {"id": spec["id"], "property": spec["property"], "value": values.get(spec["id"])}

    output = dep["output"]
    parts = output.strip(".").split("...")
    body = {
        "output": output,
        "outputs": [{"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts],
        "inputs": [{"id": "attendants-save", "property": "n_clicks", "value": 1}],
        "state": [entry(s) for s in dep["state"]],
        "changedPropIds": ["attendants-save.n_clicks"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json()["response"], ensure_ascii=False)


def _upload_greeting(client: Any, data: bytes) -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if any(i["id"] == "attendants-greeting-upload" for i in d["inputs"]))
    output = dep["output"]
    parts = output.strip(".").split("...")
    body = {
        "output": output,
        "outputs": [{"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts],
        "inputs": [
            {
                "id": "attendants-greeting-upload",
                "property": "contents",
                "value": "data:audio/wav;base64," + base64.b64encode(data).decode(),
            }
        ],
        "state": [{"id": "attendants-greeting-upload", "property": "filename", "value": "hi.wav"}],
        "changedPropIds": ["attendants-greeting-upload.contents"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()["response"]


def _acme_menus(app: Any) -> dict[str, str]:
    store: ProvisioningStore = app.server.extensions["switchboard_portal"].store
    return {m.name: m.greeting_file for m in store.attendants(ACME)}


def test_the_save_callback_stores_no_path_the_browser_sent(
    client_portal: Any, tmp_path: Path
) -> None:
    """F1/F1b replayed: globex's voicemail, a recording, globex's own library greeting."""
    data_dir: Path = client_portal.server.extensions["switchboard_portal"].settings.data_dir
    tone_wav(data_dir / GLOBEX_VOICEMAIL, 880)
    tone_wav(data_dir / GLOBEX_RECORDING, 880)
    theirs = library_relpath(GLOBEX, "greeting", OTHER_DIGEST)
    tone_wav(data_dir / theirs, 660)
    attempts = {
        "lib-probe-vm": GLOBEX_VOICEMAIL,
        "lib-probe-rec": GLOBEX_RECORDING,
        "lib-probe-theirs": theirs.as_posix(),
        "lib-probe-digest": OTHER_DIGEST,  # globex's digest: no such file in acme's folder
    }
    with client_session(client_portal, f"100@{ACME}") as client:
        for name, sent in attempts.items():
            answered = _post_save(client, name, sent)
            assert "attendants-refused" in answered and "upload it again" in answered, name
        for name, greeting in _acme_menus(client_portal).items():
            assert not greeting or is_library_path(ACME, "greeting", greeting), (name, greeting)
        assert not set(attempts) & set(_acme_menus(client_portal))

        # the way the page is used: the upload answers a digest, never a path, and saving
        # it stores acme's own library file
        kept = _upload_greeting(client, tone_wav(tmp_path / "hi.wav", 523).read_bytes())
        digest = kept["attendants-greeting-digest"]["data"]
        assert library_digest(ACME, "greeting", f"audio/{ACME}/greeting-{digest}.wav") == digest
        answered = _post_save(client, "lib-probe-upload", digest)
        assert "attendants-saved" in answered, answered
    saved = _acme_menus(client_portal)["lib-probe-upload"]
    assert saved == f"audio/{ACME}/greeting-{digest}.wav" and (data_dir / saved).is_file()
    store: ProvisioningStore = client_portal.server.extensions["switchboard_portal"].store
    for menu in store.attendants(ACME):
        if menu.name.startswith("lib-probe-"):
            store.delete_attendant(ACME, menu.id or 0)
