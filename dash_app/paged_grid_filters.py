"""The URL-filter codec of the paged grids (Call History, Recordings, Audit), pure.

A grid page keeps its filter in the URL query string so that a view is a
link: these functions turn a query (or the values of the filter controls)
into the page's clean parameters, the parameters back into a query string,
a sentence, and a grid request into the block of rows to read. What a key
*means* stays with each page's own parser (``CallFilter``,
``RecordingFilter``, ``AccessQuery``); only the plumbing is shared here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode


def first(value: Any, *, strip: bool = True) -> str:
    """One string from a query value (Dash and Flask give a list for a repeated key)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    text = "" if value is None else str(value)
    return text.strip() if strip else text


def clean_query(
    query: Mapping[str, Any], keys: Iterable[str], *, strip: bool = True
) -> dict[str, str]:
    """The page's ``keys`` of a URL query (or of its controls), in that order, empty ones left out.

    Any other key is dropped here, so a crafted one never reaches a parser.
    """
    values = {k: first(query.get(k), strip=strip) for k in keys}
    return {k: v for k, v in values.items() if v}


def controls_query(
    dates: list[str | None] | None, values: Mapping[str, str | None]
) -> dict[str, str]:
    """URL parameters for a date-range picker (``from``/``to``) and the other controls' values."""
    date_from, date_to = ((dates or []) + [None, None])[:2]
    raw = {"from": (date_from or "")[:10], "to": (date_to or "")[:10], **values}
    return clean_query(raw, raw)


def search_string(params: Mapping[str, str]) -> str:
    """``?a=1&b=2`` for a ``dcc.Location``'s search, ``""`` for no filter."""
    return f"?{urlencode(dict(params))}" if params else ""


def with_query(path: str, params: Mapping[str, str]) -> str:
    """``path`` with the filter as its query (an export link holds the page's URL keys)."""
    return path + search_string(params)


def sentence(head: str, params: Mapping[str, str], phrases: Iterable[tuple[str, str]]) -> str:
    """``head`` followed by the phrase of each key present, e.g. ``("to", "to {}")``."""
    parts = [head]
    parts += [phrase.format(params[key]) for key, phrase in phrases if params.get(key)]
    return " ".join(parts)


def time_column(
    timezone: str, *, width: int, field: str = "started_at", header: str = "Time"
) -> dict[str, Any]:
    """The grid's time column; its tooltip says which zone its times are in."""
    return {
        "field": field,
        "headerName": header,
        "headerTooltip": f"Local time ({timezone})",
        "width": width,
    }


# The last row a grid may ask for: far past any tenant's calls, far below 64-bit offsets.
MAX_ROW = 10**9


def block_bounds(request: Mapping[str, Any], block_size: int, most: int) -> tuple[int, int]:
    """(offset, limit) of the rows an infinite-model request asks for, at most ``most`` rows.

    The values come from browsers: ``int`` refuses text (a 400), negatives are clamped, and
    a row past :data:`MAX_ROW` is refused before it reaches a query (DuckDB and SQLite take
    64-bit offsets; ``1e20`` was a 500).
    """
    start = max(0, int(request.get("startRow") or 0))
    end = int(request.get("endRow") or start + block_size)
    if start > MAX_ROW or end > MAX_ROW + most:
        raise ValueError(f"row numbers stop at {MAX_ROW:,}")
    return start, max(1, min(end - start, most))


def count_label(total: int, singular: str, plural: str) -> str:
    """``1 call``, ``1,234 calls``."""
    return f"1 {singular}" if total == 1 else f"{total:,} {plural}"
