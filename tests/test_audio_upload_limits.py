"""Audio uploads a fuzzing pass broke, through the paths people take: the portal's callbacks
(in-process, Flask test client) and the CLI; real ffprobe/ffmpeg on WAVs built here.

- A WAV with no samples (or a click of 0.2 s) is refused with a sentence, and the
  greeting saved before it stays (it used to become a silent greeting: only the beep).
- Every audio drop zone takes at most what a request of ``portal_max_request_mb``
  carries base64-encoded, and says so: a larger file never reaches the portal's bare 413.
- A 16-channel 100 Hz WAV is refused at the probe (it held ffmpeg's loudnorm for minutes),
  and a conversion past ``CONVERT_SECONDS`` is a refusal, not a 500.
"""

from __future__ import annotations

import base64
import io
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli import main as cli
from dash_app.greetings import MAX_GREETING_BYTES, largest_upload_bytes
from media import audio_library
from media.audio_library import MAX_UPLOAD_BYTES
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from tests.fixtures.portal import client_session, page_layout

GLOBEX = "globex.example"  # the shared in-process portal's tenant the other tests leave alone
SB = ["--tenant", "acme.example"]


def wav_bytes(seconds: float, *, channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
    """A 440 Hz tone (nothing when ``seconds`` is 0) as PCM WAV."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    samples = (128 + 100 * tone).astype(np.uint8) if bits == 8 else (12000 * tone).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(bits // 8)
        w.setframerate(rate)
        w.writeframes(np.repeat(samples, channels).tobytes())
    return buf.getvalue()


def silence_of_size(size: int) -> bytes:
    """An 8 kHz mono WAV of exactly ``size`` bytes (an even number over its 44-byte header)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(size - 44))
    assert len(buf.getvalue()) == size
    return buf.getvalue()


def data_url(data: bytes) -> str:
    return "data:audio/wav;base64," + base64.b64encode(data).decode()


# -- the portal, as its renderer talks to it -------------------------------------------------------
@pytest.fixture
def portal_app(client_portal: Any) -> Any:
    """The shared in-process portal (one per process: Dash binds callbacks to one app)."""
    return client_portal


def post_callback(client: Any, trigger: str, values: dict[str, Any]) -> Any:
    """POST the callback ``trigger`` ("id.prop") fires; ``values`` by "id.prop" for the rest."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if any(f"{i['id']}.{i['property']}" == trigger for i in d["inputs"]))

    def entry(spec: dict[str, Any]) -> Any:
        if spec["id"].startswith("{"):  # a pattern input (one button per listed item): none
            return []
        key = f"{spec['id']}.{spec['property']}"
        return {"id": spec["id"], "property": spec["property"], "value": values.get(key)}

    output = dep["output"]
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    outputs = [{"id": p.rpartition(".")[0], "property": p.rpartition(".")[2]} for p in parts]
    body = {
        "output": output,
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [entry(i) for i in dep["inputs"]],
        "state": [entry(s) for s in dep["state"]],
        "changedPropIds": [trigger],
    }
    return client.post("/_dash-update-component", json=body)


def answer(response: Any) -> dict[str, Any]:
    """The outputs a callback answered ({} when it did not run)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return dict(response.get_json()["response"])


def text_of(outputs: dict[str, Any]) -> str:
    return json.dumps(outputs, ensure_ascii=False)


def upload_greeting(client: Any, data: bytes, name: str) -> dict[str, Any]:
    return answer(
        post_callback(
            client,
            "voicemail-greeting-upload.contents",
            {
                "voicemail-greeting-upload.contents": data_url(data),
                "voicemail-greeting-upload.filename": name,
                "voicemail-greeting-kind.value": "unavailable",
                "voicemail-box.data": None,
            },
        )
    )


def upload_menu_greeting(client: Any, data: bytes, name: str) -> Any:
    return post_callback(
        client,
        "attendants-greeting-upload.contents",
        {
            "attendants-greeting-upload.contents": data_url(data),
            "attendants-greeting-upload.filename": name,
        },
    )


def upload_hold_music(client: Any, data: bytes, name: str) -> Any:
    return post_callback(
        client,
        "attendants-hold-upload.contents",
        {
            "attendants-hold-upload.contents": data_url(data),
            "attendants-hold-upload.filename": name,
            "attendants-hold-name.value": "Refused",
            "attendants-version.data": 0,
        },
    )


def portal_store(app: Any) -> ProvisioningStore:
    return app.server.extensions["switchboard_portal"].store  # type: ignore[no-any-return]


def test_an_empty_or_too_short_greeting_is_refused_and_the_old_one_stays(portal_app: Any) -> None:
    settings = portal_app.server.extensions["switchboard_portal"].settings
    with client_session(portal_app, f"101@{GLOBEX}") as client:
        saved = upload_greeting(client, wav_bytes(1.0), "hello.wav")
        assert "Unavailable greeting saved (1.0 s)." in text_of(saved)
        greeting = settings.data_dir / f"greetings/{GLOBEX}/101/unavailable.wav"
        before = greeting.read_bytes()

        empty = text_of(upload_greeting(client, wav_bytes(0), "empty.wav"))
        assert "voicemail-greeting-error" in empty and "saved" not in empty
        assert (
            "empty.wav holds no sound: it has no audio samples."
            " Greetings must be at least 0.5 seconds long."
        ) in empty
        short = text_of(upload_greeting(client, wav_bytes(0.2), "click.wav"))
        assert "click.wav is too short (0.20 s): greetings must be at least 0.5 seconds" in short

    assert greeting.read_bytes() == before  # callers still hear the greeting saved first
    assert portal_store(portal_app).mailbox_settings(GLOBEX, "101").greetings


def test_menu_greetings_and_hold_music_refuse_empty_audio(portal_app: Any) -> None:
    with client_session(portal_app, f"100@{GLOBEX}") as client:
        menu = answer(upload_menu_greeting(client, wav_bytes(0), "empty.wav"))
        assert "attendants-greeting-digest" not in menu  # the menu keeps the greeting it had
        assert "Empty.wav holds no sound: it has no audio samples." in text_of(menu)  # alert()
        hold = text_of(answer(upload_hold_music(client, wav_bytes(0, rate=16000), "silent.wav")))
        assert "attendants-hold-refused" in hold
        assert "Hold music must be at least 0.5 seconds long." in hold
    assert portal_store(portal_app).hold_music(GLOBEX) == []


def test_the_cli_refuses_empty_hold_music_and_keeps_the_default(
    env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["demo", "seed"]) == 0
    track, empty = tmp_path / "jazz.wav", tmp_path / "empty.wav"
    track.write_bytes(wav_bytes(1.0))
    empty.write_bytes(wav_bytes(0))
    hold = ["holdmusic", "add"]
    assert cli.main([*hold, "Jazz", *SB, "--file", str(track), "--default"]) == 0
    capsys.readouterr()
    assert cli.main([*hold, "Nothing", *SB, "--file", str(empty), "--default"]) == 2
    assert "empty.wav holds no sound" in capsys.readouterr().err
    assert cli.main(["announcement", "add", *SB, "Quiet", "--file", str(empty)]) == 2
    assert "Announcements must be at least 0.5 seconds long." in capsys.readouterr().err
    assert cli.main(["holdmusic", "list", *SB]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("Jazz\tdefault")


def test_an_empty_file_an_older_version_saved_is_not_used_again(
    env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The library is keyed by the upload's bytes: what an older version kept is checked again."""
    assert cli.main(["demo", "seed"]) == 0
    data = wav_bytes(0)
    digest = audio_library._digest(b"upload", data)
    kept = env.data_dir / audio_library.library_relpath("acme.example", "hold", digest)
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(data)  # 8 kHz mono 16-bit, no samples: what the old conversion made
    (tmp_path / "empty.wav").write_bytes(data)
    assert cli.main(["holdmusic", "add", "Old", *SB, "--file", str(tmp_path / "empty.wav")]) == 2
    assert "empty.wav holds no sound" in capsys.readouterr().err


# -- how large a file a drop zone takes ------------------------------------------------------------
def _props(node: Any, component_id: str) -> dict[str, Any]:
    """The props of the component ``component_id`` in a layout answer."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == component_id:
            return props
        nodes: Any = node.values()
    elif isinstance(node, list):
        nodes = node
    else:
        return {}
    for value in nodes:
        found = _props(value, component_id)
        if found:
            return found
    return {}


def test_every_audio_drop_zone_takes_only_what_a_request_carries_and_says_so(
    portal_app: Any,
) -> None:
    settings = portal_app.server.extensions["switchboard_portal"].settings
    request_limit = portal_app.server.config["MAX_CONTENT_LENGTH"]
    largest = largest_upload_bytes(settings.portal_max_request_mb)
    assert largest == min(MAX_UPLOAD_BYTES, (request_limit - 64 * 1024) * 3 // 4)
    with client_session(portal_app, f"100@{GLOBEX}") as client:
        page = page_layout(client, "/attendants").get_json()
        for zone in (
            "attendants-greeting-upload",
            "attendants-ann-upload",
            "attendants-hold-upload",
        ):
            assert _props(page, zone)["max_size"] == largest, zone
            hint = _props(page, f"{zone}-limit")["children"]
            assert hint == "MP3 or WAV, up to 11.9 MB"  # 16 MB requests: 11.95 MB files
        voicemail = page_layout(client, "/voicemail").get_json()
        assert _props(voicemail, "voicemail-greeting-upload")["max_size"] == MAX_GREETING_BYTES
        assert _props(voicemail, "voicemail-greeting-upload-limit")["children"] == (
            "MP3 or WAV, up to 10 MB"
        )

        # the largest file a drop zone sends reaches the callback, which answers in the page
        refused = text_of(answer(upload_hold_music(client, silence_of_size(largest), "big.wav")))
        assert "Big.wav is longer than 600 seconds." in refused
        # the fuzzer's 13.5 MB file: the drop zone keeps it back, else it would get a bare 413
        fuzzed = bytes(13_500_000)
        assert len(fuzzed) > largest
        assert upload_hold_music(client, fuzzed, "big.mp3").status_code == 413


# -- what would hold ffmpeg for minutes ------------------------------------------------------------
def test_a_16_channel_100_hz_wav_is_refused_before_converting(
    portal_app: Any, env: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    odd = wav_bytes(3.0, channels=16, rate=100, bits=8)  # the fuzzer's 599 s file, cut to 3 s
    with client_session(portal_app, f"100@{GLOBEX}") as client:
        menu = text_of(answer(upload_menu_greeting(client, odd, "slow.wav")))
        assert "Slow.wav has 16 channels; greetings may have at most 8" in menu
        low = text_of(answer(upload_menu_greeting(client, wav_bytes(3.0, rate=100), "low.wav")))
        assert "Low.wav is sampled at 100 Hz; greetings must be sampled at 8,000" in low
    assert cli.main(["demo", "seed"]) == 0
    (tmp_path / "slow.wav").write_bytes(odd)
    assert cli.main(["holdmusic", "add", "Slow", *SB, "--file", str(tmp_path / "slow.wav")]) == 2
    assert "slow.wav has 16 channels" in capsys.readouterr().err


def test_a_conversion_that_runs_too_long_is_refused_in_the_page(
    portal_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # raising=False: without the limit, the same upload converts (and the test fails)
    monkeypatch.setattr(audio_library, "CONVERT_SECONDS", 0.05, raising=False)
    with client_session(portal_app, f"100@{GLOBEX}") as client:
        menu = text_of(answer(upload_menu_greeting(client, wav_bytes(30.0), "long.wav")))
    assert "attendants-upload-refused" in menu
    assert "Long.wav took too long to convert (over 0.05 seconds)" in menu


# -- a file over a drop zone's limit is refused in words, where it was dropped -------------------
def _guarded_uploads(node: Any) -> dict[str, dict[str, Any]]:
    """The drop zones wrapped by ``dash_app.upload_limits.sized_upload``: upload id -> wrapper
    props (its limit and sentence), found in a layout answer."""
    found: dict[str, dict[str, Any]] = {}
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and "data-upload-max-bytes" in props:
            upload, line = props["children"]
            assert line["props"]["id"] == f"{upload['props']['id']}-too-large"
            found[upload["props"]["id"]] = props | {"max_size": upload["props"]["max_size"]}
        for value in node.values():
            found |= _guarded_uploads(value)
    elif isinstance(node, list):
        for value in node:
            found |= _guarded_uploads(value)
    return found


def test_every_drop_zone_carries_its_limit_and_the_sentence_for_a_larger_file(
    portal_app: Any,
) -> None:
    settings = portal_app.server.extensions["switchboard_portal"].settings
    largest = largest_upload_bytes(settings.portal_max_request_mb)
    with client_session(portal_app, f"100@{GLOBEX}") as client:
        zones: dict[str, dict[str, Any]] = {}
        for path in ("/attendants", "/voicemail", "/contacts", "/users"):
            zones |= _guarded_uploads(page_layout(client, path).get_json())
    assert set(zones) == {
        "attendants-greeting-upload", "attendants-ann-upload", "attendants-hold-upload",
        "voicemail-greeting-upload", "contacts-upload", "users-import-upload",
    }  # fmt: skip
    for upload_id, zone in zones.items():
        assert zone["data-upload-max-bytes"] == str(zone["max_size"]), upload_id
    hold = zones["attendants-hold-upload"]
    assert hold["max_size"] == largest  # the server's request limit still bounds the body
    assert hold["data-upload-too-large"] == (
        "{name} is over 11.9 MB, the largest file this form takes, so it was not sent."
        " Shorten it, or save it at a lower bit rate (a mono MP3 is small)."
    )
    assert zones["voicemail-greeting-upload"]["data-upload-too-large"].startswith(
        "{name} is over 10 MB,"
    )
    assert (Path(__file__).parents[1] / "dash_app/assets/upload_limits.js").is_file()


@pytest.mark.browser
def test_a_file_over_the_limit_is_refused_in_words_where_it_was_dropped(
    portal: Any, page: Any, tmp_path: Path
) -> None:
    """Chosen with the file dialog (hold music) or dropped (a greeting): the zone says why."""
    from playwright.sync_api import expect

    from tests.fixtures.portal import log_in

    log_in(page, portal.url, "100@acme.example")
    page.goto(f"{portal.url}/attendants")
    big, small = tmp_path / "concert.wav", tmp_path / "jingle.wav"
    big.write_bytes(bytes(13_500_000))  # the fuzzer's size: over the 11.9 MB a zone takes
    small.write_bytes(wav_bytes(1.0))
    page.locator("#attendants-hold-upload input[type=file]").set_input_files(str(big))
    line = page.locator("#attendants-hold-upload-too-large")
    expect(line).to_have_text(
        "concert.wav is over 11.9 MB, the largest file this form takes, so it was not sent."
        " Shorten it, or save it at a lower bit rate (a mono MP3 is small)."
    )
    page.locator("#attendants-hold-upload input[type=file]").set_input_files(str(small))
    expect(line).to_have_text("")  # a file that fits is sent, and the sentence goes

    page.goto(f"{portal.url}/voicemail")
    page.get_by_role("tab", name="Settings").click()
    zone = page.locator("#voicemail-greeting-upload")
    expect(zone).to_be_visible()
    dropped = page.evaluate_handle(
        """() => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(11 * 1024 * 1024)], "long <b>hello</b>.mp3"));
            return data;
        }"""
    )
    for event in ("dragenter", "dragover", "drop"):
        zone.locator("div").first.dispatch_event(event, {"dataTransfer": dropped})
    expect(page.locator("#voicemail-greeting-upload-too-large")).to_have_text(
        "long <b>hello</b>.mp3 is over 10 MB, the largest file this form takes, so it was not"
        " sent. Shorten it, or save it at a lower bit rate (a mono MP3 is small)."
    )
