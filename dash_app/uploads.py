"""What a ``dcc.Upload`` hands the server: a data URL, decoded to bytes here once.

Greetings, announcements, hold music, contact and user CSVs all arrive as
``data:<type>;base64,<payload>``; a value that is not one (crafted by a
browser, or cut short) decodes to no bytes, which each form then refuses in
its own words.
"""

from __future__ import annotations

import base64
import binascii


def decode_upload(contents: str | None) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL (empty when it is not one)."""
    try:
        return base64.b64decode((contents or "").split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        return b""
