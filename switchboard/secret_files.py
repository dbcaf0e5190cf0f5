"""Secrets generated once and kept in a file under the data dir, shared by every process.

The portal's session key and the media server's secret must be the same in
every process that reads them (gunicorn workers, Kamailio's rendered config,
the media workers), so a random value per process will not do. The first
process to need one writes it to a private temp file and ``link()``s it into
place: link fails when another process won the race, and then that process's
value is the value. Nobody ever sees a half-written file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def secret_in_file(path: Path, nbytes: int) -> str:
    """The secret kept in ``path`` (mode 0600), generated (``nbytes`` random bytes, hex) once."""
    existing = _read(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(nbytes))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    value = _read(path)
    if not value:
        raise RuntimeError(f"{path} is empty; remove it to generate a new secret")
    return value


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
