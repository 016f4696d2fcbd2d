"""E-mail over SMTP (aiosmtplib: asynchronous, never blocks the event loop)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from idp.notify.protocol import DeliveryFailed, Message
from idp.settings import SmtpSettings


class SmtpNotifier:
    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, message: Message) -> None:
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
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"recipient refused: {exc}", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        return None
