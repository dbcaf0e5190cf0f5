"""Who may use the portal, and what each signed-in user may see.

Sign-in is plain Flask (``/login``, ``/logout``), not a Dash page: one
``before_request`` guard can then refuse every Dash endpoint to anonymous
visitors without exceptions for the login form itself.

- Anonymous ``/_dash-*`` (and any other ``/_…`` endpoint): 401.
- Anonymous pages and downloads: redirect to ``/login?next=<path>``; ``next``
  is only ever a local path, never another site.
- The session cookie is HttpOnly and SameSite=Lax (and Secure with the
  ``portal_https`` setting); the login and logout forms carry a CSRF token
  kept in the session.
- Rate limiting of failed logins (per account and per source address) lives
  in ``ProvisioningStore.authenticate``; the source address is the peer's,
  or ``X-Forwarded-For`` as seen ``portal_proxy_hops`` proxies back, never a
  header nobody vouches for.
- Request bodies over ``portal_max_request_mb`` get 413 before they are read.
- Signed in with a one-time password, a user reaches only ``/password``
  until they choose their own (:mod:`dash_app.first_password`).
- Sessions are signed cookies, which the server cannot take back: a copy
  outlives any ``session.clear()``. So each session is stamped at sign-in
  with the user's ``session_version`` and the loader honours it only while
  the store still holds that number (a mismatch, a disabled or a removed user:
  signed out at the next request). The store bumps it (see
  ``switchboard.store.accounts``) at sign-out, which therefore ends *every*
  session of the user (what "sign out" must mean on a shared office PC, and
  for a copied cookie), at a password change (the changer's own session is
  re-stamped with :func:`stamp_session` and stays), a manager's reset,
  disabling and a role change.

Every view of call data goes through :func:`open_calls`, the one place that
decides the scope: the user's own calls, or the whole tenant for managers and
supervisors, never another tenant.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template_string,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as WerkzeugResponse

from dash_app.front import trusted_hops
from dash_app.known_browsers import KNOWN_COOKIE, known_login, remember
from switchboard.secret_files import secret_in_file
from switchboard.settings import Settings
from switchboard.store import ProvisioningError, ProvisioningStore, User

if TYPE_CHECKING:
    import duckdb

_EXTENSION_KEY = "switchboard_portal"
_CSRF_KEY = "csrf_token"
_SESSION_VERSION_KEY = "session_version"
# Paths that anonymous visitors may fetch: the form, and the static files it uses.
_PUBLIC_PATHS = frozenset({"/login", "/_favicon.ico"})
_PUBLIC_PREFIXES = ("/assets/",)


@dataclass
class Portal:
    """What every request of one portal process shares."""

    settings: Settings
    store: ProvisioningStore
    # One SQLite connection serves all request threads; its transactions must not interleave.
    store_lock: threading.Lock


class PortalUser(UserMixin):  # type: ignore[misc]
    """Flask-Login's view of a provisioning user, reloaded on every request."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


def portal() -> Portal:
    """The portal state of the running Flask app."""
    return current_app.extensions[_EXTENSION_KEY]  # type: ignore[no-any-return]


@contextmanager
def provisioning() -> Iterator[ProvisioningStore]:
    """The provisioning store, held exclusively by this thread while in use."""
    state = portal()
    with state.store_lock:
        yield state.store


def signed_in_user() -> User:
    """The user of this request; refuses anonymous callers even behind the guard."""
    if not current_user.is_authenticated:
        raise PermissionError("not signed in")
    return current_user.user  # type: ignore[no-any-return]


def optional_user() -> User | None:
    """The user of this request, or None (page layouts must survive anonymous calls)."""
    return current_user.user if current_user.is_authenticated else None


def open_calls(user: User, *, own_calls_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A warehouse connection whose ``calls`` view holds only what ``user`` may see.

    Plain users (and everyone when ``own_calls_only``) get a view bound to
    their extension; managers and supervisors get their whole tenant.
    """
    # lazy: the pipeline loads DuckDB
    from pipeline.history import menu_names, name_menus
    from pipeline.viewer import viewer_extension, viewer_mailbox  # the owners of the scope
    from pipeline.warehouse import connect

    with provisioning() as store:  # numbers named by the user's contacts (pipeline.contacts)
        names = store.contact_names(user.tenant_domain, user)
    conn = connect(
        portal().settings,
        user.tenant_domain,
        extension=viewer_extension(user, own_calls_only=own_calls_only),
        mailbox=viewer_mailbox(user, own_calls_only=own_calls_only),  # voicemail: its own rule
        contact_names=names,
    )
    with provisioning() as store:  # the Call History's paths name the tenant's menus
        name_menus(conn, menu_names(store, user.tenant_domain))
    return conn


def callers_outside_scope(user: User, numbers: list[str]) -> list[str]:
    """Those of ``numbers`` that never called into what ``user`` may see.

    The callback worklist's rows come from the browser: managers and
    supervisors may mark callers of their tenant, others only callers of
    their own calls. Numbers compare digits only, as the worklist does.
    """
    from pipeline.filters import CALLER_DIGITS

    digits = {number: re.sub(r"[^0-9]", "", number) for number in numbers}
    wanted = sorted({d for d in digits.values() if d})
    seen: set[str] = set()
    if wanted:
        conn = open_calls(user)
        try:
            rows = conn.execute(
                f"select distinct {CALLER_DIGITS} from calls"
                f" where {CALLER_DIGITS} in ({', '.join('?' * len(wanted))})",
                wanted,
            ).fetchall()
        finally:
            conn.close()
        seen = {row[0] for row in rows}
    return [number for number, d in digits.items() if d not in seen]


def csrf_token() -> str:
    """This session's CSRF token, created on first use."""
    token = session.get(_CSRF_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return str(token)


def stamp_session(version: int) -> None:
    """Keep this session signed in at the user's ``version`` (sign-in, own password change)."""
    session[_SESSION_VERSION_KEY] = version


def _csrf_ok() -> bool:
    sent = request.form.get(_CSRF_KEY, "")
    expected = session.get(_CSRF_KEY, "")
    return bool(sent) and bool(expected) and hmac.compare_digest(str(sent), str(expected))


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def load_secret_key(settings: Settings) -> str:
    """The session signing key: the setting, or one generated once under data_dir.

    A per-process random key would sign everyone out at each restart and break
    with several workers, so the generated key is kept in a file.
    """
    if settings.secret_key:
        return settings.secret_key
    return secret_in_file(settings.data_dir / "secret_key", 32)


_LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Sign in · Switchboard</title>
  <link rel="stylesheet" href="/assets/login.css">
</head>
<body class="sb-login">
  <main class="sb-login-card">
    <div class="sb-login-brand"><span class="sb-logo"></span>Switchboard</div>
    <h1>Sign in to your phone portal</h1>
    {% if notice %}<p class="sb-login-notice" role="status">{{ notice }}</p>{% endif %}
    {% if error %}<p class="sb-login-error" id="login-error" role="alert">{{ error }}</p>{% endif %}
    <form method="post" action="{{ url_for('login') }}" autocomplete="on">
      <input type="hidden" name="csrf_token" value="{{ token }}">
      <input type="hidden" name="next" value="{{ next }}">
      <label for="login-user">Extension@domain</label>
      <input id="login-user" name="login" type="text" required autofocus
             placeholder="101@acme.example" value="{{ login }}" autocomplete="username">
      <label for="login-password">Password</label>
      <input id="login-password" name="password" type="password" required
             autocomplete="current-password">
      <button id="login-submit" type="submit">Sign in</button>
    </form>
    <p class="sb-login-help">Use your extension and the portal password your administrator
      gave you (not your phone's SIP password).</p>
  </main>
</body>
</html>
"""


def _login_page(*, error: str = "", notice: str = "", login: str = "", status: int = 200) -> Any:
    html = render_template_string(
        _LOGIN_PAGE,
        error=error,
        notice=notice,
        login=login,
        token=csrf_token(),
        next=safe_next(request.values.get("next")),
    )
    return html, status, {"Cache-Control": "no-store"}


def _guard() -> Any:
    """Refuse anonymous access to everything but the login form and its assets."""
    path = request.path
    if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES):
        return None
    if current_user.is_authenticated:
        return None
    if path.startswith("/_") or request.method not in ("GET", "HEAD"):
        return jsonify(error="sign in first"), 401
    return redirect(url_for("login", next=request.full_path.rstrip("?")))


def install_auth(server: Flask, settings: Settings) -> None:
    """Add sessions, the login/logout routes and the guard to the portal's Flask app."""
    secret_key = server.secret_key = load_secret_key(settings)
    server.config.update(
        SESSION_COOKIE_NAME="switchboard_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Over plain HTTP a Secure cookie would never come back: only when told so.
        SESSION_COOKIE_SECURE=settings.portal_https,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.portal_https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # Werkzeug refuses a longer body with 413 from its Content-Length, unread.
        MAX_CONTENT_LENGTH=settings.portal_max_request_mb * 2**20,
    )
    hops = trusted_hops(settings)
    if hops > 0:
        # Only then is X-Forwarded-For the client's address (the login limits key on it);
        # without a proxy anyone could write that header. The portal's own front
        # (dash_app.front) replaces the header a client wrote.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    server.extensions[_EXTENSION_KEY] = Portal(
        settings=settings,
        store=ProvisioningStore(settings.provisioning_db),
        store_lock=threading.Lock(),
    )

    manager = LoginManager()
    manager.session_protection = "basic"
    manager.init_app(server)

    @manager.user_loader
    def _load_user(user_id: str) -> PortalUser | None:
        # Reloaded on every request, so a role change or deletion applies at once.
        try:
            uid = int(user_id)
        except ValueError:
            return None
        with provisioning() as store:
            user = store.user_by_id(uid)
        # A disabled user's session ends at their next request, and so does one signed in
        # before the user's sessions were ended (no stamp: from before stamps existed).
        if user is None or user.disabled:
            return None
        if session.get(_SESSION_VERSION_KEY) != user.session_version:
            return None
        return PortalUser(user)

    server.before_request(_guard)

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "GET":
            if current_user.is_authenticated:
                return redirect(safe_next(request.args.get("next")))
            notice = "You are signed out." if request.args.get("signed_out") else ""
            return _login_page(notice=notice)
        login_name = request.form.get("login", "").strip()
        if not _csrf_ok():
            return _login_page(
                error="The sign-in form expired. Please try again.", login=login_name, status=400
            )
        # A connection of its own, not the shared one: the password check (argon2, ~0.1 s
        # of CPU by design, seconds on a busy box) must not hold the store lock that every
        # request of this worker takes. Failures are counted in the provisioning DB, so the
        # limits hold across threads and gunicorn workers alike.
        own_store = ProvisioningStore(settings.provisioning_db)
        # a browser that signed in as this login before is not locked out by guesses at it
        # from elsewhere (dash_app.known_browsers)
        known = known_login(secret_key, request.cookies.get(KNOWN_COOKIE))
        try:
            user = own_store.authenticate(
                login_name,
                request.form.get("password", ""),
                request.remote_addr or "unknown",
                settings.login_max_attempts,
                settings.login_window_seconds,
                per_account=None
                if known == login_name.lower()
                else settings.login_max_attempts_per_account,
                per_address=settings.login_max_attempts_per_address,
            )
        except ProvisioningError as exc:
            message = str(exc)
            return _login_page(
                error=message[:1].upper() + message[1:], login=login_name, status=401
            )
        finally:
            own_store.close()
        target = safe_next(request.form.get("next"))
        session.clear()  # a fresh session: no fixation of a pre-login session id
        session.permanent = True
        login_user(PortalUser(user))
        stamp_session(user.session_version)
        csrf_token()
        response = redirect(target)
        remember(response, secret_key, login_name, secure=settings.portal_https)
        return response

    @server.route("/logout", methods=["POST"])
    def logout() -> WerkzeugResponse:
        if not _csrf_ok():
            return Response("The sign-out form expired; reload the page.", status=400)
        # Every session of the user ends, not just this browser's copy (module docstring).
        with provisioning() as store:
            store.end_sessions(signed_in_user().id)
        logout_user()
        session.clear()
        return redirect(url_for("login", signed_out=1))
