"""The notification backend configured for each channel (the ``notification`` jobs of
``idp.notify.outbox`` send through them)."""

from __future__ import annotations

from idp.context import Context
from idp.notify.backends.dev_sink import DevSinkNotifier
from idp.notify.backends.sms_http import HttpSmsNotifier
from idp.notify.backends.smtp import SmtpNotifier
from idp.notify.protocol import Channel, Notifier


def build_notifiers(ctx: Context) -> dict[Channel, Notifier]:
    settings = ctx.settings.notify
    dev = DevSinkNotifier(ctx.db, ctx.clock)
    email_backend = settings.email_backend
    if email_backend == "auto":
        email_backend = "dev" if ctx.settings.dev_mode else "smtp"
    sms_backend = settings.sms_backend
    if sms_backend == "auto":
        sms_backend = "dev" if ctx.settings.dev_mode else "http"
    email: Notifier = dev if email_backend == "dev" else SmtpNotifier(settings.smtp)
    sms: Notifier = dev if sms_backend == "dev" else HttpSmsNotifier(settings.sms)
    return {"email": email, "sms": sms}
