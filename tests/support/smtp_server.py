"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps the messages it receives."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import EmailMessage
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.server import free_port


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpServer:
    """`with SmtpServer() as smtp: smtp.url ...; smtp.wait_for_message()`. With `login`, the
    server asks for AUTH (over plain TCP, as a local relay would) and checks the pair."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        self.login = login
        options: dict = {}
        if login is not None:
            options = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **options)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and (
                auth_data.login.decode(),
                auth_data.password.decode(),
            )
            == self.login
        )
        return AuthResult(success=ok)

    @property
    def url(self) -> str:
        if self.login is None:
            return f"smtp://127.0.0.1:{self.port}"
        user, password = self.login
        return f"smtp://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def wait_for_message(self, count: int = 1, timeout: float = 10.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while len(self.inbox.messages) < count:
            assert time.monotonic() < deadline, f"no mail #{count} within {timeout}s"
            time.sleep(0.05)
        return self.inbox.messages[count - 1]

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()


def reset_link(message: EmailMessage) -> str:
    body = message.get_content()
    found = re.search(r"(http\S+#/reset/(\S+))", body)
    assert found, body
    return found.group(1)


def reset_token(message: EmailMessage) -> str:
    return reset_link(message).rsplit("/", 1)[1]
