"""Uploaded CSV and vCard files the way spreadsheets and crafted uploads write them: each
either reads or is refused with a message, and no row is lost without a word.

Every case here was a 500 or a silent loss before (a fuzzing pass over the portal's uploads).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli import main as cli
from switchboard.contact_files import contacts_vcard, parse_contacts
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore
from switchboard.store.contacts import Contact
from switchboard.user_csv import parse_users_csv

USERS = "extension,name,email,role,timezone\n"
CONTACTS = "name,company,email,phone,mobile\n"


def test_old_mac_line_ends_read_like_any_others() -> None:
    """Excel's "CSV (Macintosh)" ends lines with a bare CR (was: "new-line character seen
    in unquoted field")."""
    users = parse_users_csv("extension,name\r335,Cara Rowe\r336,Dan Cole\r")
    assert [(u.extension, u.name) for u in users.users] == [
        ("335", "Cara Rowe"),
        ("336", "Dan Cole"),
    ]
    contacts = parse_contacts("name,phone\r\nAda,555 0101\rBo,555 0102\r")
    assert [c.name for c in contacts.contacts] == ["Ada", "Bo"]


def test_a_field_past_the_csv_modules_limit_is_the_users_error() -> None:
    """One stray quote in a large file made a field over 128 KiB (was a 500)."""
    huge = '"' + "x" * 140_000 + '"\n'
    for parse, header in ((parse_users_csv, USERS), (parse_contacts, CONTACTS)):
        with pytest.raises(
            ProvisioningError, match="could not be read as CSV after line 2: field larger"
        ):
            parse(header + "300," + huge)


def test_an_unclosed_quote_names_the_rows_it_swallowed() -> None:
    """The rows after an unclosed quote were read into one field and never reported."""
    users = parse_users_csv(USERS + '307,"Open quote,x\n308,Eve,,user,\n309,Finn,,user,\n')
    assert not users.ready and users.users == []
    (line,) = users.errors
    assert line.line == 2 and "lines 2 to 4 were read as one row" in line.error
    contacts = parse_contacts(CONTACTS + 'Quote,"open,,5550110\nNext,,,555 0111,\nAda,,,555 0101,')
    assert [c.name for c in contacts.contacts] == []
    assert [(e.line, e.error.split(":")[0]) for e in contacts.errors] == [
        (2, "lines 2 to 4 were read as one row")
    ]
    # a quoted field closed on its line is fine
    ok = parse_contacts(CONTACTS + '"Smith, Ann",,,555 0101,\nBo,,,555 0102,')
    assert [c.name for c in ok.contacts] == ["Smith, Ann", "Bo"]


def test_a_column_named_twice_is_refused() -> None:
    with pytest.raises(ProvisioningError, match="the column 'name' twice"):
        parse_users_csv("extension,name,Name\n300,Ann,Bob\n")


@pytest.mark.parametrize("name", ["Evil\rEND:VCARD", "two\nlines", "nul\x00", "tab\there"])
def test_a_name_is_one_line_of_text(name: str) -> None:
    said = ("one line of text", "read as one row")  # a line break also spans two lines
    users = parse_users_csv(f'extension,name\n300,"{name}"\n')
    assert any(s in users.errors[0].error for s in said), users.errors
    contacts = parse_contacts(f'name,phone\n"{name}",555 0101\n')
    assert any(s in contacts.errors[0].error for s in said), contacts.errors


@pytest.mark.parametrize("zone", ["America", "Europe", "A" * 300])
def test_a_time_zone_that_is_a_folder_or_too_long_is_the_users_error(zone: str) -> None:
    """``ZoneInfo("America")`` raises IsADirectoryError; 300 characters, "name too long"."""
    users = parse_users_csv(f"extension,name,timezone\n300,Ann,{zone}\n")
    assert "unknown time zone" in users.errors[0].error


def test_a_stored_line_break_cannot_forge_a_card_on_export() -> None:
    """A CR in a name ended its vCard property: the export held a second, forged card."""
    forged = Contact(
        id=1, name="Evil\rEND:VCARD\rBEGIN:VCARD\rFN:Injected\rTEL:+19005550199", company="",
        email="", phone="555 0101", mobile="", shared=True, owner_extension=None, favourite=False,
    )  # fmt: skip
    card = contacts_vcard([forged])
    starts = [line for line in card.split("\r\n") if line.startswith("BEGIN:VCARD")]
    assert len(starts) == 1 and "\rTEL" not in card  # the name's breaks are escaped: one line
    read_back = parse_contacts(card)
    assert len(read_back.lines) == 1  # one card, whatever its name reads as
    assert "9005550199" not in " ".join(c.phone + c.mobile for c in read_back.contacts)


def test_the_cli_says_a_file_is_missing_or_not_utf8(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``switchboard user import`` / ``contact import`` printed a traceback for both."""
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("extension,name\n300,Jos\xe9\n".encode("latin-1"))
    assert cli.main(["init"]) == 0
    assert cli.main(["tenant", "add", "t.example", "--timezone", "UTC"]) == 0
    for args, says in (
        (["user", "import", "--tenant", "t.example", str(tmp_path / "none.csv")], "cannot read"),
        (["user", "import", "--tenant", "t.example", str(latin)], "not UTF-8 text"),
        (["contact", "import", "--tenant", "t.example", "--ext", "100", str(tmp_path / "x")],
         "cannot read"),
    ):  # fmt: skip
        capsys.readouterr()
        assert cli.main(args) == 2
        assert says in capsys.readouterr().err


def test_a_vcard_21_quoted_printable_name_is_decoded() -> None:
    """Older phones and Outlook write vCard 2.1 with quoted-printable names (stored as
    "=C3=BC…" before), soft line breaks included."""
    card = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\r\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=\r\n=C3=BCller\r\n"
        "ORG;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:B=E4ckerei\r\n"
        "TEL;CELL:+49 170 1234567\r\nEND:VCARD\r\n"
    )
    (contact,) = parse_contacts(card).contacts
    assert (contact.name, contact.company, contact.mobile) == (
        "Jürgen Müller", "Bäckerei", "+49 170 1234567",
    )  # fmt: skip


@pytest.mark.parametrize("name", ["x" * 5000, "nul\x00name", "../../etc/passwd\nsecond line"])
def test_a_track_named_after_its_upload_is_one_short_line(
    store: ProvisioningStore, name: str
) -> None:
    """A hold-music track takes its upload's file name: 5,000 characters and NUL were
    stored as its name (and then listed and exported)."""
    with pytest.raises(ProvisioningError, match="a track's name is"):
        store.add_hold_music("acme.example", name, "hold.wav")
    assert store.hold_music("acme.example") == []
