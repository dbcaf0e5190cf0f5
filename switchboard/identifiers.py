"""What a tenant name, an extension and an email address may look like, defined once.

A tenant name is a SIP domain and also becomes a lake directory
(``tenant=<domain>``), so whoever builds a path checks it against
``TENANT_RE`` — the provisioning store on the way in, the pipeline and the
warehouse on the way out — never trusting the caller.
"""

import re
import unicodedata

_LABEL = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
TENANT_RE = re.compile(rf"^(?=.{{1,64}}$){_LABEL}(\.{_LABEL})+$")
EXTENSION_RE = re.compile(r"^[0-9]{2,8}$")

# An email address any SMTP server takes from us: ASCII only (the sender speaks no SMTPUTF8),
# a dot-atom local part, a dotted domain, 254 characters at most.
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
EMAIL_RE = re.compile(
    rf"(?=.{{3,254}}$){_ATOM}(\.{_ATOM})*@{_LABEL}(\.{_LABEL})+", re.IGNORECASE | re.ASCII
)


# Characters that end a line for someone: controls (CR, LF, VT, FF, NEL, NUL …) and the
# Unicode line and paragraph separators (str.splitlines() breaks at U+2028 too).
_LINE_ENDING = frozenset({"Cc", "Zl", "Zp"})


# What a name shown on someone else's screen may not carry: the line endings and the format
# characters (bidi overrides show a name backwards, zero-width marks hide what it says).
_NOT_SHOWN = _LINE_ENDING | {"Cf"}


def shown_text(text: str) -> str:
    """``text`` without control, format and line-separator characters: a name as another
    person's phone may show it (kamailio.caller_names: a caller's display name)."""
    return "".join(c for c in text if unicodedata.category(c) not in _NOT_SHOWN)


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character or a line separator (a line break, a
    tab, NUL, U+2028): a name is one line of printable text. One with a CR ended its vCard
    property on export and forged a card (U+2028 did the same through our own importer);
    one with a newline swallowed the rows after an unclosed quote in an import."""
    return any(unicodedata.category(c) in _LINE_ENDING for c in text)


def header_text(text: str) -> str:
    """``text`` made safe for one email header: each control or line separator a space,
    and no RFC 2047 encoded word (``=?`` written ``= ?``). Python 3.11's email package
    decodes an encoded word when a header is set and writes the CR LF it decodes to raw
    (CVE-2024-6923): a caller's display name "=?utf-8?q?…=0D=0AFrom:_…?=" gave the
    voicemail email headers and an HTML body of the caller's choosing."""
    flat = "".join(" " if unicodedata.category(c) in _LINE_ENDING else c for c in text)
    return flat.replace("=?", "= ?")


# What a terminal obeys rather than shows: C0 controls and DEL (ESC opens CSI/OSC 8/OSC 52
# sequences, BEL rings, BS and CR write over what was printed), C1 controls (U+009B is a
# one-character CSI on some terminals), the line and paragraph separators, the bidi marks,
# embeddings, overrides and isolates (U+202E shows "gpj.exe" as "exe.jpg"), and lone
# surrogates (which would stop print() with an encoding error). A joiner stays: names use it.
_UNPRINTABLE_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible_escape(match: re.Match[str]) -> str:
    c = match.group()
    if c in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def printable_text(text: str, *, keep: str = "") -> str:
    """``text`` as a terminal shows it and obeys none of it: each control character, line
    separator and bidi control written as its escape (``\\x1b``, ``\\t``, ``\\u202e``), so a
    caller's display name or a transcript can neither drive the supervisor's terminal nor
    forge a row. ``keep``: characters the writer put there itself (tab, newline of a table)."""
    if keep:
        return _UNPRINTABLE_RE.sub(
            lambda m: m.group() if m.group() in keep else _visible_escape(m), text
        )
    return _UNPRINTABLE_RE.sub(_visible_escape, text)
