"""How the portal answers what no page of it would send: a 4xx with a message, never a 500.

Callback inputs, page URLs and download URLs all come from browsers, and a
crafted one must get a clear refusal rather than a traceback:

- A callback whose user has every query slot in use (:mod:`dash_app.query_slots`)
  shows a "busy, try again" notice as the page, or answers 429.
- A callback that raises ``NotAllowed`` or ``PermissionError`` answers 403;
  one that chokes on its inputs (``ValueError`` and its kin: a ``FilterError``,
  a ``ProvisioningError``, ``int("x")``, a missing key in a crafted row) answers
  400. Anything else is a bug and stays a 500 (logged).
- A request to ``/_dash-update-component`` that Dash cannot even map to a
  callback (unknown output, inputs of the wrong shape or number, outputs that do not
  match what the callback returns, a relative page path, JSON nested past Python's
  recursion limit) answers 400; a script bundle Dash does not have answers 404.
- A page whose URL filter does not parse is served with status 400; the page
  itself still loads and says what is wrong (its layout shows the message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from dash.exceptions import CallbackException, DependencyException
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    InternalServerError,
    NotFound,
)

from dash_app.auth import optional_user
from dash_app.editing import NotAllowed
from dash_app.query_slots import QueryBusy, busy_callback_answer

log = logging.getLogger(__name__)

CALLBACK_PATH = "/_dash-update-component"
# Errors that say "these inputs make no sense", not "this code is wrong" (OverflowError: a
# number too large for what it feeds, e.g. ``int(Infinity)``, a row id past SQLite's range).
_BAD_INPUT = (
    ValueError, TypeError, KeyError, IndexError, AttributeError, LookupError, OverflowError,
)  # fmt: skip
# Dash's own refusals of a request it cannot map to a callback (PreventUpdate, also a
# CallbackException, keeps Dash's own handler: Flask picks the most specific class).
_MALFORMED_REQUEST = (CallbackException, RecursionError)


def refuse_callback_error(exc: Exception) -> Any:
    """Dash's ``on_error``: a refusal becomes 403, unusable inputs 400, the rest stays 500
    (a busy user: the busy notice, or 429)."""
    if isinstance(exc, HTTPException):
        raise exc
    if isinstance(exc, QueryBusy):
        return busy_callback_answer(exc)
    if isinstance(exc, NotAllowed | PermissionError):
        raise Forbidden(str(exc) or "not allowed") from exc
    if isinstance(exc, _BAD_INPUT):
        # one line: the traceback (debug only) would let a client fill the log at will
        log.warning("callback refused its inputs: %r", exc)
        log.debug("the refused callback's traceback", exc_info=exc)
        raise BadRequest(f"this action could not use the values sent: {exc}") from exc
    raise exc


def _calls_query_error(query: Mapping[str, str], timezone: str) -> str:
    from pipeline.filters import CallFilter, FilterError

    try:
        CallFilter.from_query(query, timezone)
    except FilterError as exc:
        return str(exc)
    return ""


def _analytics_query_error(query: Mapping[str, str], timezone: str) -> str:
    from dash_app.analytics_tables import AnalyticsQuery

    return AnalyticsQuery.from_url(query, timezone)[1]


def _extension_error(key: str, value: str | None) -> str:
    from switchboard.identifiers import EXTENSION_RE

    if value and not (EXTENSION_RE.match(value) and value.isascii() and "\n" not in value):
        return f"{key!r} must be an extension (2 to 8 digits), not {value[:40]!r}"
    return ""


def _rules_query_error(query: Mapping[str, str], _timezone: str) -> str:
    return _extension_error("user", query.get("user"))


def _voicemail_query_error(query: Mapping[str, str], _timezone: str) -> str:
    from dash_app.pages.voicemail import FOLDER_VIEWS  # the page's own module, already loaded

    folder = query.get("folder")
    if folder and folder not in FOLDER_VIEWS:
        return f"'folder' must be one of {', '.join(FOLDER_VIEWS)}, not {folder[:40]!r}"
    return _extension_error("box", query.get("box"))


def _audit_query_error(query: Mapping[str, str], timezone: str) -> str:
    from dash_app.audit_view import parse_query

    return parse_query(query, "tenant.invalid", timezone)[2]  # the tenant is not checked


def _recordings_query_error(query: Mapping[str, str], timezone: str) -> str:
    from dash_app.recordings_view import parse_query
    from pipeline.recording_query import RECORDING_ID_RE

    opened = query.get("rec")
    if opened and not RECORDING_ID_RE.match(opened):
        return f"'rec' must be a recording id (rec-<24 hex digits>), not {opened[:40]!r}"
    return parse_query(query, timezone)[2]


# Pages with URL parameters, and the check of what the page's layout reads from them.
PAGE_QUERY_CHECKS: dict[str, Callable[[Mapping[str, str], str], str]] = {
    "/calls": _calls_query_error,
    "/analytics": _analytics_query_error,
    "/rules": _rules_query_error,
    "/voicemail": _voicemail_query_error,
    "/audit": _audit_query_error,
    "/recordings": _recordings_query_error,
}


def install_refusals(server: Flask) -> None:
    """Add the malformed-callback handler and the page-URL check to the portal."""

    def malformed_callback(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):  # e.g. BadRequestKeyError is a KeyError too
            return exc
        if request.path != CALLBACK_PATH:
            log.error("unhandled error on %s", request.path, exc_info=exc)
            return InternalServerError()
        log.warning("malformed callback request: %r", exc)
        response = jsonify(error=f"this callback request was not understood: {exc!r}")
        response.status_code = 400
        return response

    for kind in (*_BAD_INPUT, *_MALFORMED_REQUEST):
        server.register_error_handler(kind, malformed_callback)

    @server.errorhandler(DependencyException)
    def unknown_bundle(exc: DependencyException) -> Any:
        log.warning("unknown script bundle %s: %s", request.path, exc)
        return NotFound(f"no such file: {request.path[:100]}")

    @server.after_request
    def bad_page_query_is_400(response: Response) -> Response:
        check = PAGE_QUERY_CHECKS.get(request.path)
        user = optional_user()
        if check is None or user is None or request.method != "GET" or response.status_code != 200:
            return response
        try:
            error = check(request.args.to_dict(), user.timezone)
        except _BAD_INPUT as exc:  # a parser that raised instead of saying why
            log.warning("page query refused: %r", exc)
            error = f"this address could not be read: {exc}"
        if error:
            response.status_code = 400
            response.headers["X-Switchboard-Error"] = error.encode("ascii", "replace").decode()
        return response
