"""E-mail over SMTP (aiosmtplib: asynchronous, never blocks the event loop)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from idp.notify.protocol import DeliveryFailed, Message, NotifierSetup, safe_reason
from idp.settings import SmtpSettings


def _is_permanent(exc: aiosmtplib.SMTPException) -> bool:
    # RFC 5321 §4.2.1: 5yz is a permanent negative reply, 4yz a transient one. Only replies about
    # this message or its recipient make retrying useless; a refused login or a server in trouble
    # is the operator's to fix, and the message may still go out afterwards.
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= 500 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return exc.code >= 500
    return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return f"recipient refused: {first.code} {first.message}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class SmtpNotifier:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, message: Message) -> None:
        if not self._settings.host:  # dev mode only: outside it idp does not start without one
            raise DeliveryFailed(
                "no SMTP server: IDP_NOTIFY__SMTP__HOST is not set", permanent=True
            )
        email = EmailMessage()
        email["From"] = self._settings.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._settings.host,
                port=self._settings.port,
                username=self._settings.username,
                password=self._settings.password,
                start_tls=self._settings.start_tls,
                use_tls=self._settings.use_tls,
                timeout=self._settings.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            hide = (message.to, message.body, self._settings.username, self._settings.password)
            permanent = isinstance(exc, aiosmtplib.SMTPException) and _is_permanent(exc)
            raise DeliveryFailed(safe_reason(_describe(exc), hide), permanent=permanent) from exc

    async def close(self) -> None:
        return None


def build(setup: NotifierSetup) -> SmtpNotifier:
    setup.require_channel("email")
    return SmtpNotifier(SmtpSettings.model_validate(setup.options))
