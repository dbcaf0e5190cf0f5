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
import os
import secrets
from pathlib import Path

from switchboard.identifiers import EXTENSION_RE, TENANT_RE
from switchboard.settings import Settings

ASSERTED_HEADER = "X-SB-Asserted"
TRUNK_IDENTITY = "trunk"
SECRET_FILE = "media_secret"


def media_secret(settings: Settings) -> str:
    """The secret Kamailio proves itself with: the setting, or one generated once in data_dir."""
    if settings.media_secret:
        return settings.media_secret
    path = settings.data_dir / SECRET_FILE
    existing = _read(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(24))
    try:
        # link() fails when another process won the race: then its secret is the secret
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    value = _read(path)
    if not value:
        raise RuntimeError(f"{path} is empty; remove it to generate a new media secret")
    return value


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


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
