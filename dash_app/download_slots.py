"""How many files (CSV and spreadsheet downloads, recordings, voicemail audio) one user may
have on the wire at once in this portal process.

A download is served by a worker thread for as long as the client takes to read it: 48
downloads a client never read held every thread of a worker, and the next user's sign-in
page waited past 60 s (the portal has 8 threads a worker by default). A user gets
``SLOTS_PER_USER`` at a time; one more is answered 429 at once, and a slot comes back when
its response is closed (finished, or the client gone). Per process: with several workers
a user may hold that many in each. The portal's nginx front (:mod:`dash_app.front`) reads
a response whole before a slow client drains it, so a slot is held for as long as the
portal takes to write the file, not the client to read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

from flask import Response
from werkzeug.wsgi import ClosingIterator

from dash_app.user_slots import UserSlots

SLOTS_PER_USER = 4
_SLOTS = UserSlots(SLOTS_PER_USER)


def in_slot(user_id: int, respond: Callable[[], Response]) -> Response:
    """``respond()`` in one of the user's slots, kept until the response is closed; 429
    when the user has ``SLOTS_PER_USER`` downloads open already."""
    release = _SLOTS.take(user_id)
    if release is None:
        return Response(
            "Too many downloads at once: wait for one to finish, then try again.",
            status=429,
            headers={"Retry-After": "5"},
        )
    try:
        response = respond()
    except BaseException:  # an abort(404) or a failure: nothing is on the wire
        release()
        raise
    # Closing the response runs its close hooks, except where Werkzeug hands a file's
    # iterator to the server directly (send_file: direct_passthrough), which closes only
    # that iterator: so the iterator releases too (once, whichever comes first).
    response.call_on_close(release)
    if response.direct_passthrough:
        body = cast(Iterable[bytes], response.response)  # a file's bytes (send_file)
        response.response = ClosingIterator(body, release)
    return response
