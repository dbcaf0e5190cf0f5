"""The first sign-in with a one-time password: choose your own before anything else.

A manager's reset and a new user from the Users page give a one-time
password (expiring, see ``switchboard.store.user_admin``). Signed in with
it, the user reaches nothing but ``/password`` (and sign-out): pages redirect
there, Dash endpoints and downloads answer 403. Like ``/login`` it is a plain
Flask form with the session's CSRF token, so it works before any Dash page
is allowed to load.

Only a session that signed in with the one-time password may choose the new
one. A reset ends every session of the user (the session version,
:mod:`dash_app.auth`), so a session from before it (a stolen cookie, a
browser left open) is signed out before it reaches this form; after the
reset the one-time password is the only one that signs in, so every session
still honoured while a change is pending was opened with it. Choosing the
password ends the user's other sessions and re-stamps this one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, render_template_string, request
from flask_login import current_user

from dash_app.auth import _csrf_ok, csrf_token, provisioning, safe_next, stamp_session
from switchboard.store import ProvisioningError

PASSWORD_PATH = "/password"
_OPEN_WHILE_PENDING = frozenset({PASSWORD_PATH, "/logout", "/login", "/_favicon.ico"})

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Choose your password · Switchboard</title>
  <link rel="stylesheet" href="/assets/login.css">
</head>
<body class="sb-login">
  <main class="sb-login-card">
    <div class="sb-login-brand"><span class="sb-logo"></span>Switchboard</div>
    <h1>Choose your own password</h1>
    <p class="sb-login-help">You signed in as {{ login }} with a one-time password.
      Choose the password you will use from now on (at least 8 characters).</p>
    {% if error %}<p class="sb-login-error" id="password-error" role="alert">{{ error }}</p>
    {% endif %}
    <form method="post" action="/password" autocomplete="off">
      <input type="hidden" name="csrf_token" value="{{ token }}">
      <input type="hidden" name="next" value="{{ next }}">
      <label for="password-new">New password</label>
      <input id="password-new" name="password" type="password" required minlength="8"
             autocomplete="new-password">
      <label for="password-repeat">Repeat it</label>
      <input id="password-repeat" name="repeat" type="password" required minlength="8"
             autocomplete="new-password">
      <button id="password-submit" type="submit">Save and continue</button>
    </form>
  </main>
</body>
</html>
"""


def _pending() -> bool:
    # The session loader has already refused sessions from before the latest reset.
    return bool(current_user.is_authenticated and current_user.user.must_change_password)


def _page(error: str = "", status: int = 200) -> Any:
    html = render_template_string(
        _PAGE,
        error=error,
        login=current_user.user.login,
        token=csrf_token(),
        next=safe_next(request.values.get("next")),
    )
    return html, status, {"Cache-Control": "no-store"}


def _hold_until_changed() -> Any:
    """Runs after the sign-in guard: a pending change holds every other request."""
    path = request.path
    if not _pending() or path in _OPEN_WHILE_PENDING or path.startswith("/assets/"):
        return None
    if path.startswith("/_") or request.method not in ("GET", "HEAD"):
        return jsonify(error="choose a new password first"), 403
    return redirect(f"{PASSWORD_PATH}?{urlencode({'next': request.full_path.rstrip('?')})}")


def install_first_password(server: Flask) -> None:
    """Add ``/password`` and the hold on everything else (call after ``install_auth``)."""
    server.before_request(_hold_until_changed)

    @server.route(PASSWORD_PATH, methods=["GET", "POST"])
    def choose_password() -> Any:
        if not _pending():
            return redirect(safe_next(request.values.get("next")))
        if request.method == "GET":
            return _page()
        if not _csrf_ok():
            return _page("The form expired. Please try again.", status=400)
        password = request.form.get("password", "")
        if password != request.form.get("repeat", ""):
            return _page("The two passwords differ.", status=400)
        try:
            with provisioning() as store:
                version = store.set_new_password(current_user.user.id, password)
        except ProvisioningError as exc:
            message = str(exc)
            return _page(message[:1].upper() + message[1:], status=400)
        stamp_session(version)  # this session stays; any other ends
        return redirect(safe_next(request.form.get("next")))
