"""The time zones a person may name: one list for every check and every picker.

An IANA name is known when :mod:`zoneinfo` lists it (``available_timezones``), less
the entries of a zone database that are not places: ``localtime`` is this machine's own
zone (a symlink; DuckDB's ICU does not know it, so every Analytics query of a user in it
failed), ``Factory`` means "zone not set" (its abbreviation is ``-00``) and
``posixrules`` is a template. ``ZoneInfo(name)`` alone is not a check: it opens any
file under the zone directory (``right/UTC``, ``posix/Europe/Paris``, a folder such as
``America`` raises ``IsADirectoryError``). Every other name DuckDB converts in (checked
over the whole list here).
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

NOT_PLACES = frozenset({"localtime", "Factory", "posixrules"})


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones() - NOT_PLACES)


def known_zone(name: object) -> ZoneInfo | None:
    """The zone ``name`` names, None unless it is a known IANA name (see the docstring)."""
    if not isinstance(name, str) or name not in known_zones():
        return None
    return ZoneInfo(name)


def require_zone(name: object, error: type[Exception] = ValueError) -> ZoneInfo:
    """The zone ``name`` names, else ``error`` with the one message every check gives."""
    zone = known_zone(name)
    if zone is None:
        raise error(f"unknown time zone {str(name)[:64]!r}")
    return zone


@cache
def picked_zones() -> list[str]:
    """What a zone picker offers: UTC, then the Region/City names, sorted (no
    ``Etc/GMT+5``, whose sign is the reverse of what it reads, nor ``SystemV/``)."""
    places = (z for z in known_zones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return ["UTC", *sorted(places)]
