"""Telling a person about changes to their account, on their confirmed contacts.

ASVS 5.0 6.3.7: notify the person of credential and contact changes, so a change they did not
make does not go unnoticed. Messages go through the outbox in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from idp.context import Context
from idp.db.models import Contact
from idp.notify import outbox

_KIND = {
    "ru": {"phone": "телефон", "email": "адрес почты"},
    "en": {"phone": "phone", "email": "e-mail address"},
}
_CHANGE = {
    "ru": {
        "adding": "запрошено добавление: {kind} {value}",
        "added": "добавлен {kind} {value}",
        "removed": "удалён {kind} {value}",
    },
    "en": {
        "adding": "a request to add the {kind} {value}",
        "added": "the {kind} {value} was added",
        "removed": "the {kind} {value} was removed",
    },
}


def mask(kind: str, value: str) -> str:
    """Enough of a contact to recognise it, not enough to learn it: ``+7999*****67``,
    ``i***@example.ru``."""
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return value[:5] + "*" * max(0, len(value) - 7) + value[-2:]


def describe_change(change: str, kind: str, value: str, locale: str) -> str:
    lang = locale if locale in _CHANGE else "ru"
    return _CHANGE[lang][change].format(kind=_KIND[lang][kind], value=mask(kind, value))


def notify_contacts(
    session: AsyncSession,
    ctx: Context,
    contacts: Iterable[Contact],
    *,
    template: str,
    locale: str,
    params: dict[str, str] | None = None,
    skip: uuid.UUID | None = None,
) -> int:
    """One message per confirmed contact (except ``skip``); returns how many were queued."""
    queued = 0
    for contact in contacts:
        if contact.confirmed_at is None or contact.id == skip:
            continue
        outbox.enqueue(
            session,
            ctx.keyring,
            channel="sms" if contact.kind == "phone" else "email",
            to=contact.value,
            template=template,
            locale=locale,
            params=params or {},
            now=ctx.clock.now(),
            settings=ctx.settings.notify,
        )
        queued += 1
    return queued
