"""What the media server may believe about a call: only what Kamailio asserted.

Kamailio authenticates phones (digest auth) and knows the carrier by its
address; the media server authenticates Kamailio. A request is Kamailio's when
it comes from Kamailio's SIP address (``sip_host:sip_port``) and carries

    X-SB-Asserted: <identity>;key=<media secret>

which Kamailio removes from everything it receives and adds, after auth, to
what it relays to the media server. ``<identity>`` is ``<user>@<tenant>`` for a
subscriber that passed digest auth, ``trunk`` for a call from the carrier.
The secret is the setting ``media_secret`` or, when that is empty, a random
one generated once and kept in ``<data_dir>/media_secret`` (the launcher
renders it into Kamailio's local config; the media server reads the same file).
"""

from __future__ import annotations

import hmac

from switchboard.identifiers import EXTENSION_RE, TENANT_RE
from switchboard.secret_files import secret_in_file
from switchboard.settings import Settings

ASSERTED_HEADER = "X-SB-Asserted"
TRUNK_IDENTITY = "trunk"
SECRET_FILE = "media_secret"


def media_secret(settings: Settings) -> str:
    """The secret Kamailio proves itself with: the setting, or one generated once in data_dir."""
    if settings.media_secret:
        return settings.media_secret
    return secret_in_file(settings.data_dir / SECRET_FILE, 24)


def asserted_value(identity: str, secret: str) -> str:
    """The header value Kamailio sends (tests that stand in for Kamailio send the same)."""
    return f"{identity};key={secret}"


def asserted_identity(values: list[str], secret: str) -> str | None:
    """The identity of the one ``X-SB-Asserted`` value that carries ``secret``, else None.

    More than one value is refused: Kamailio adds exactly one after removing
    whatever the phone sent.
    """
    if len(values) != 1 or not secret:
        return None
    identity, sep, key = values[0].strip().rpartition(";key=")
    if not sep or not hmac.compare_digest(key.strip().encode(), secret.encode()):
        return None
    identity = identity.strip().lower()
    if identity == TRUNK_IDENTITY:
        return identity
    user, _, tenant = identity.partition("@")
    if EXTENSION_RE.match(user) and TENANT_RE.match(tenant):
        return identity
    return None
