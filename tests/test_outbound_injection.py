"""What an outsider writes never becomes structure where it lands: an email header, a
vCard property, a command's option (an audit of the outbound channels, 2026-12; each
test failed before its fix)."""

from __future__ import annotations

import email
import shutil
import subprocess
from email import policy
from pathlib import Path

import pytest

from media.prompts import synthesize
from pipeline.notify import build_voicemail_email
from switchboard.contact_files import contacts_vcard, parse_vcards
from switchboard.identifiers import has_control_characters, header_text
from switchboard.report_schedules import ReportSchedule, ScheduleError, validate_schedule
from switchboard.store.contacts import Contact
from switchboard.voicemail import MailboxSettings, VoicemailMessage

# A carrier passes a caller's display name through; this one decodes to CR LF + headers.
ENCODED_WORD = (
    "=?utf-8?q?Alice=0D=0AFrom:_CEO_=3Cceo@acme.example=3E=0D=0AReply-To:_pay@evil.example"
    "=0D=0AContent-Type:_text/html=0D=0A=0D=0A=3Ca_href=3Dhttps://evil.example=3EListen?="
)


def _voicemail_email(caller_name: str) -> email.message.Message:
    message_id = "vm-" + "a" * 32
    msg = VoicemailMessage(
        message_id,
        "acme.example",
        "101",
        message_id,
        None,
        "inbox",
        False,
        None,
        1_700_000_000.0,
        12.0,
        "x.wav",
        None,
        "pending",
    )
    box = MailboxSettings(
        "acme.example",
        "101",
        "unavailable",
        None,
        {},
        None,
        "newest",
        True,
        True,
        False,
        "owner@acme.example",
    )
    facts = {"caller": "+15551234567", "caller_name": caller_name, "from_carrier": True}
    built = build_voicemail_email(
        msg=msg,
        box=box,
        facts=facts,
        timezone="UTC",
        names={},
        sender="pbx@acme.example",
        audio=None,
    )
    return email.message_from_bytes(built.as_bytes(), policy=policy.default)


@pytest.mark.parametrize(
    "name", [ENCODED_WORD, "Eve\u2028Bcc: all@acme.example", "Eve\x0bX: 1", "Eve\x85X: 1"]
)
def test_a_caller_s_display_name_adds_no_header_to_the_voicemail_email(name: str) -> None:
    sent = _voicemail_email(name)
    assert sorted(sent.keys()) == sorted(
        [
            "Subject",
            "From",
            "To",
            "Date",
            "Message-ID",
            "X-Switchboard-Voicemail",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        ]
    )
    assert sent["From"] == "pbx@acme.example" and sent.get_content_type() == "text/plain"
    assert str(sent["Subject"]).startswith("New voicemail from ")


def test_header_text_flattens_line_ends_and_encoded_words() -> None:
    assert header_text("a\r\nb\u2028c\u2029d\x85e") == "a  b c d e"
    assert header_text("=?utf-8?q?x?=") == "= ?utf-8?q?x?="
    assert header_text("Zoë O'Neil (+1 555)") == "Zoë O'Neil (+1 555)"


def test_a_line_separator_is_no_part_of_a_name_nor_of_a_vcard_value() -> None:
    assert has_control_characters("Bob\u2028Bank") and has_control_characters("Bob\x85")
    assert not has_control_characters("Zoë\u200dO'Neil")  # a joiner is part of a name
    card = Contact(
        1,
        "Bob\u2028END:VCARD\u2028BEGIN:VCARD\u2028FN:Bank",
        "",
        "",
        "+15551230000",
        "",
        True,
        None,
        False,
    )
    preview = parse_vcards(contacts_vcard([card]))
    assert len(preview.lines) == 1  # one card, not a forged second one


def test_a_schedule_name_is_one_line() -> None:
    schedule = ReportSchedule(
        tenant="acme.example",
        name="Daily KPIs\n",
        kind="kpis",
        format="csv",
        cron="0 7 * * *",
        timezone="UTC",
        emails=("a@acme.example",),
    )
    with pytest.raises(ScheduleError, match="schedule name"):
        validate_schedule(schedule)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_a_spoken_text_is_never_an_espeak_option(tmp_path: Path) -> None:
    """A menu text "-f<file>" spoke that file; now it is words (and "-w" writes nothing)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the payroll password is swordfish " * 20)
    out = tmp_path / "menu.wav"
    synthesize(f"-f{secret}", out)
    spoken_file = tmp_path / "file.wav"
    subprocess.run(["espeak-ng", "-w", str(spoken_file), "-f", str(secret)], check=True)
    assert out.stat().st_size < spoken_file.stat().st_size / 4  # a few words, not the file
    synthesize(f"-w{tmp_path / 'elsewhere.wav'}", tmp_path / "second.wav")
    assert not (tmp_path / "elsewhere.wav").exists()
