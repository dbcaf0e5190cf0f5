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


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (a line break, a tab, NUL): a name is one
    line of printable text. One with a CR ended its vCard property on export and forged a
    card; one with a newline swallowed the rows after an unclosed quote in an import."""
    return any(unicodedata.category(c) == "Cc" for c in text)
