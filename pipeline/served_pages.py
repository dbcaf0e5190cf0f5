"""A page served from the lake listing it was last computed over, while a background thread
computes it over the newer one (the portal's ``portal_page_seconds``: the Analytics page).

Why: in a live office a new call lands every few seconds, and every metric result is keyed
by the exact files it read (:mod:`pipeline.metrics_cache`). A page of ~20 metric queries
whose listing changed since the user last looked is computed again on their request:
hundreds of milliseconds per user scope, seconds on a busy tenant, all of it on the
request path (``benchmarks/portal_load.py --ingest-every``). Served here, a request reads
the listing the page was last fully computed over (its results are cached, so it answers
at once) and, when the lake has moved on, starts one background computation over the new
listing; once that is done, the next request reads it. The page says what its data is as
of; nothing is approximate: every number is exact for the files of that moment.

How old the data may be: a listing is read again only while it is younger than the
setting and no file it names was unlinked (:meth:`pipeline.listings.Listing.readable_for`:
compaction keeps merged-away files for ``compaction_grace``, at least twice the setting;
a deleted recording's file goes at once and stamps the tenant). Otherwise, and the first
time, the page is computed on the request, as with the setting at 0.

The page's computation must read the lake only through :func:`pipeline.listings.tables_listed`
(every warehouse connection does) and must not need the request (it runs on a thread
too): a function of the user and the view, as ``dash_app.pages.analytics`` passes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from pipeline.listings import Listing, ListingError, ListingKey, listed_again, reading

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PAGES = 512  # pages (user x view) remembered per process; the oldest used goes first

_seconds = 0.0  # 0: compute every page on its request


@dataclass
class _Page:
    read: dict[ListingKey, Listing]  # what the page was last fully computed over
    refreshing: bool = False


_PAGES: OrderedDict[Hashable, _Page] = OrderedDict()
_lock = threading.Lock()


def set_page_reuse(seconds: float, *, grace: float) -> None:
    """Serve a page from listings up to ``seconds`` old (0: never); ``grace`` is
    compaction's (``compaction_grace``), which must outlast twice that."""
    global _seconds
    if not (seconds >= 0 and 2 * seconds <= grace):  # NaN too
        raise ListingError(
            f"a page can be served from data 0 to {grace / 2:g} seconds old"
            f" (half of compaction_grace), not {seconds:g}"
        )
    with _lock:
        _seconds = float(seconds)
        _PAGES.clear()


def served(key: Hashable, compute: Callable[[], T]) -> tuple[T, float]:
    """``compute()`` for page ``key`` (a user and a view), and the time (``time.time()``)
    of the oldest listing it read: what the page's data is as of."""
    with _lock:
        seconds = _seconds
        page = _PAGES.get(key)
        if page is not None:
            _PAGES.move_to_end(key)
    if page is not None and seconds > 0 and _readable(page.read, seconds):
        with reading(page.read) as read:
            result = compute()
        if _moved_on(page.read) and _claim(page):
            threading.Thread(
                target=_refresh, args=(key, compute), name="page-refresh", daemon=True
            ).start()
        return result, _as_of(read or page.read)
    with reading() as read:
        result = compute()
    if seconds > 0 and read:
        _remember(key, _Page(read))
    return result, _as_of(read)


def _readable(read: dict[ListingKey, Listing], seconds: float) -> bool:
    return bool(read) and all(listing.readable_for(seconds) for listing in read.values())


def _moved_on(read: dict[ListingKey, Listing]) -> bool:
    """Whether a reader listing now would see other files than the page read."""
    return any(listed_again(listing).snapshots != listing.snapshots for listing in read.values())


def _claim(page: _Page) -> bool:
    """Mark ``page`` as being refreshed; False if a refresh already runs."""
    with _lock:
        if page.refreshing:
            return False
        page.refreshing = True
        return True


def _refresh(key: Hashable, compute: Callable[[], object]) -> None:
    """Compute the page over the listings of now; the next request reads those."""
    try:
        with reading() as read:
            compute()
    except Exception:
        log.exception("refreshing page %r failed; its next request computes it", key)
        with _lock:
            page = _PAGES.get(key)
            if page is not None:
                page.refreshing = False
        return
    _remember(key, _Page(read))


def _remember(key: Hashable, page: _Page) -> None:
    with _lock:
        _PAGES[key] = page
        _PAGES.move_to_end(key)
        while len(_PAGES) > MAX_PAGES:
            _PAGES.popitem(last=False)


def _as_of(read: dict[ListingKey, Listing]) -> float:
    return min((listing.taken_at for listing in read.values()), default=time.time())
