"""Browsers that have signed in before: the owner's way past a lockout aimed at them.

The per-account limit (``login_max_attempts_per_account`` failures in the window, from any
address) stops guessing spread over many addresses, but it also stopped the owner: 50 wrong
passwords from 10 addresses in 8 s kept a chosen user, a manager too, out for 5 minutes,
again and again, even with the right password. A browser that has signed in as a login
carries a cookie saying so, signed with the portal's key (``KNOWN_DAYS``); for that login,
from that browser, the per-account limit does not apply. The per-address limits still do,
and a guesser has no such cookie without the password.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

KNOWN_COOKIE = "switchboard_known"
KNOWN_DAYS = 90
_SALT = "switchboard-known-browser"


def known_login(secret_key: str, cookie: str | None) -> str | None:
    """The login this browser signed in as (lower case), if the cookie is ours and fresh."""
    if not cookie:
        return None
    try:
        value = URLSafeTimedSerializer(secret_key, salt=_SALT).loads(
            cookie, max_age=KNOWN_DAYS * 86400
        )
    except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
        return None
    return value if isinstance(value, str) else None


def remember(response: Response, secret_key: str, login: str, *, secure: bool) -> None:
    """Mark this browser as having signed in as ``login``."""
    response.set_cookie(
        KNOWN_COOKIE,
        URLSafeTimedSerializer(secret_key, salt=_SALT).dumps(login.strip().lower()),
        max_age=KNOWN_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
