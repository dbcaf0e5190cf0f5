"""Where a tenant's audio library lives, defined once: ``audio/<tenant>/<kind>-<digest>.wav``.

The media server plays whatever file a menu, an announcement or a hold track
names, and converts anything that is not 8 kHz mono WAV, so a stored path is
as good as a read permission on the data dir: a path that named another
company's voicemail or call recording let a manager dial in and hear it. So a
path is only ever built here, from the tenant doing the saving, and a path is
only accepted when it is exactly one built here for that tenant and kind
(``library_digest``): by the store on the way in, by the media server on the
way out, and by the portal, which takes from the browser a content digest at
most, never a path.

Core: ``media.audio_library`` (which writes the files), the store and the
portal import this; it imports only ``switchboard.identifiers``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, get_args

from switchboard.identifiers import TENANT_RE

LibraryKind = Literal["greeting", "announcement", "hold"]
LIBRARY_KINDS: tuple[str, ...] = get_args(LibraryKind)
LIBRARY_DIR = "audio"
# A file is named by the first 20 hex digits of the SHA-256 of its content (media.audio_library).
DIGEST_CHARS = 20
_DIGEST_RE = re.compile(rf"[0-9a-f]{{{DIGEST_CHARS}}}")


class LibraryPathError(ValueError):
    """No library path can be made of these parts (a bad tenant, kind or digest)."""


def is_digest(text: object) -> bool:
    """Whether ``text`` looks like a library file's digest (hex, ``DIGEST_CHARS`` long)."""
    return isinstance(text, str) and _DIGEST_RE.fullmatch(text) is not None


def library_relpath(tenant: str, kind: LibraryKind, digest: str) -> Path:
    """``audio/<tenant>/<kind>-<digest>.wav``, relative to the data dir (stored in the DB)."""
    if not TENANT_RE.fullmatch(tenant) or kind not in LIBRARY_KINDS or not is_digest(digest):
        raise LibraryPathError(f"no library path for {kind!r} of {tenant!r}")
    return Path(LIBRARY_DIR) / tenant / f"{kind}-{digest}.wav"


def library_digest(tenant: str, kind: LibraryKind, relpath: object) -> str | None:
    """The digest of ``relpath`` if it is exactly ``tenant``'s library file of ``kind``, else None.

    The one check of "is this the tenant's own library file": exact text, so no
    ``..``, no absolute path, no other tenant's folder and no other kind passes.
    """
    if not isinstance(relpath, str):
        return None
    prefix, suffix = f"{LIBRARY_DIR}/{tenant}/{kind}-", ".wav"
    if not relpath.startswith(prefix) or not relpath.endswith(suffix):
        return None
    digest = relpath[len(prefix) : -len(suffix)]
    try:
        built = library_relpath(tenant, kind, digest)
    except LibraryPathError:
        return None
    return digest if relpath == built.as_posix() else None


def is_library_path(tenant: str, kind: LibraryKind, relpath: object) -> bool:
    """Whether ``relpath`` is ``tenant``'s own library file of ``kind`` (``library_digest``)."""
    return library_digest(tenant, kind, relpath) is not None


def tenant_library_dir(data_dir: Path, tenant: str) -> Path:
    """``<data_dir>/audio/<tenant>``: the only folder the tenant's menus may play from."""
    if not TENANT_RE.fullmatch(tenant):
        raise LibraryPathError(f"no audio library for {tenant!r}")
    return data_dir / LIBRARY_DIR / tenant
