"""Every drop zone of the portal says so when a dropped file is too large to send.

A ``dcc.Upload`` keeps back a file over its ``max_size`` in the browser and
fires no callback, so without more the user sees nothing happen. The limit
stays in the browser on purpose: a larger file would be read into the page,
base64-encoded and posted only to be refused by the server's request limit
(``portal_max_request_mb``) with a bare 413 no callback can turn into words
(``dash_app.greetings.largest_upload_bytes`` sizes the audio zones below it).
So :func:`sized_upload` wraps the zone with its limit and its sentence in
``data-`` attributes, and ``assets/upload_limits.js`` — one listener for the
whole portal — checks each dropped or chosen file against them and writes the
sentence into the zone's ``<upload id>-too-large`` line (or clears it).
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dash_app.describe import data_attrs
from media.audio_library import megabytes

TOO_LARGE_CLASS = "sb-upload-too-large"  # the line the script writes in (assets/upload_limits.js)
AUDIO_ADVICE = "Shorten it, or save it at a lower bit rate (a mono MP3 is small)."
SPLIT_ADVICE = "Split it into smaller files and import them one by one."


def too_large_message(max_bytes: int, advice: str) -> str:
    """What the user reads when a file over ``max_bytes`` is dropped; ``{name}`` is the file's."""
    return (
        f"{{name}} is over {megabytes(max_bytes)} MB, the largest file this form takes,"
        f" so it was not sent. {advice}"
    )


def sized_upload(upload_id: str, children: Any, max_bytes: int, advice: str, **props: Any) -> Any:
    """A ``dcc.Upload`` ``upload_id`` taking files up to ``max_bytes`` (``props``: its others),
    with the line that says so when a larger one is dropped or chosen.

    ``advice``: what to do instead ("Shorten it, or save it at a lower bit rate.").
    """
    return html.Div(
        [
            dcc.Upload(children, id=upload_id, max_size=max_bytes, **props),
            html.Div(
                id=f"{upload_id}-too-large",
                className=TOO_LARGE_CLASS,
                role="alert",
                style={"color": "var(--mantine-color-red-7)", "fontSize": "0.8rem"},
            ),
        ],
        **data_attrs(
            upload_max_bytes=str(max_bytes), upload_too_large=too_large_message(max_bytes, advice)
        ),
    )
