"""Outgoing mail through SMTP with the standard library: the password reset link.

smtplib blocks, so callers run `send` in a thread, never on the event loop."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from srs.kit import metrics

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]
_DEFAULT_PORTS: dict[Security, int] = {"none": 25, "starttls": 587, "tls": 465}
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://user:pass@host:port` (add `?starttls=true` to upgrade the connection) or
    `smtps://...` (TLS from the first byte). User and password are URL-decoded."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("an SMTP URL looks like smtp://user:pass@host:587?starttls=true")
    starttls = parse_qs(parts.query).get("starttls", ["false"])[-1].lower() in _TRUE
    security: Security = "tls" if parts.scheme == "smtps" else "starttls" if starttls else "none"
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or _DEFAULT_PORTS[security],
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def send(server: SmtpServer, message: EmailMessage, *, timeout: float) -> None:
    context = ssl.create_default_context()
    if server.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            server.host, server.port, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with client:
        if server.security == "starttls":
            client.starttls(context=context)
        if server.username:
            client.login(server.username, server.password or "")
        client.send_message(message)


def reset_message(sender: str, to: str, link: str, minutes: int) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Reset your srs password"
    message["From"] = sender
    message["To"] = to
    message.set_content(
        "Someone (hopefully you) asked to reset the password of your srs account.\n\n"
        f"Open this link to choose a new password. It works once, for {minutes} minutes:\n\n"
        f"{link}\n\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    return message


def send_reset_link(
    smtp_url: str, sender: str, to: str, link: str, minutes: int, timeout: float
) -> None:
    """Runs after the answer has gone out (so the answer takes as long whether or not the
    email has an account). A failure cannot reach the caller then: it is logged with the
    reason and counted in srs_mail_failures_total, where an operator sees it."""
    try:
        send(parse_smtp_url(smtp_url), reset_message(sender, to, link, minutes), timeout=timeout)
    except (OSError, smtplib.SMTPException) as error:
        metrics.MAIL_FAILURES.inc()
        log.error("password reset mail was not sent: %s: %s", type(error).__name__, error)
        return
    metrics.MAILS_SENT.inc()
    log.info("password reset mail sent")
