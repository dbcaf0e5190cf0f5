"""A manager's password reset, emailed to the user as well (issue 14).

The one-time password is still shown to the manager (they may have to read it
out); when SMTP is configured (settings ``smtp_host``/``smtp_port``, the
voicemail email's server, ``smtp_from`` as sender) it also goes to the user's
own address, at once and once: unlike voicemail email (``pipeline.notify``)
nothing is queued or retried, because the manager is looking at the page and
is told whether it went, and can reset again. The code is in the body only,
never in the subject (subjects show in notifications and server logs).

``email_one_time_password`` answers the address it went to, or None when
there was nothing to do (no SMTP server set, or the user has no email); any
failure to hand it to the server is a ``ResetEmailError`` whose message says
why, in words the portal and the CLI show as they are.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from switchboard.identifiers import EMAIL_RE
from switchboard.settings import Settings
from switchboard.store import User

SMTP_TIMEOUT = 15.0
SmtpFactory = Callable[[str, int], smtplib.SMTP]


class ResetEmailError(Exception):
    """The one-time password could not be emailed (the reset itself is done)."""


def build_reset_email(*, user: User, code: str, hours: float, sender: str) -> EmailMessage:
    """The email carrying ``code`` to ``user`` (pure: tests read it directly)."""
    email = EmailMessage()
    email["Subject"] = "Your Switchboard password was reset"
    email["From"] = sender
    email["To"] = user.email
    email["Date"] = formatdate(time.time(), localtime=False)
    email["Message-ID"] = make_msgid(domain="switchboard.password")
    email.set_content(
        "\n".join(
            [
                f"Hello {user.name},",
                "",
                f"Your manager reset the portal password of {user.login}.",
                "",
                f"One-time password: {code}",
                "",
                f"It works once, for {hours:g} hours. Sign in to the portal with it;",
                "you then choose a password of your own. Your old password no longer works.",
                "",
                "If you did not expect this, tell your manager.",
            ]
        )
    )
    return email


def email_one_time_password(
    settings: Settings,
    user: User,
    code: str,
    *,
    hours: float,
    smtp_factory: SmtpFactory | None = None,
) -> str | None:
    """Email ``code`` to ``user``; the address it went to, None when SMTP or an address is missing.

    Raises ``ResetEmailError`` when the address cannot be used or the server
    cannot be reached or refuses the message.
    """
    if not settings.smtp_host or not user.email:
        return None
    if not EMAIL_RE.fullmatch(user.email):
        raise ResetEmailError(f"{user.email!r} is not an address we can send to")
    try:
        email = build_reset_email(user=user, code=code, hours=hours, sender=settings.smtp_from)
    except (ValueError, MessageError) as exc:
        raise ResetEmailError(f"cannot build the email: {exc}") from exc
    factory = smtp_factory or (lambda host, port: smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT))
    try:
        smtp = factory(settings.smtp_host, settings.smtp_port)
    except OSError as exc:  # smtplib's errors are OSErrors too
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        raise ResetEmailError(f"the mail server {where} cannot be reached ({exc})") from exc
    try:
        smtp.send_message(email)
    except (OSError, ValueError) as exc:
        raise ResetEmailError(f"the mail server refused it ({exc or type(exc).__name__})") from exc
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return user.email
