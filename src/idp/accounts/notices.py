"""Telling a person about changes to their account, on their confirmed contacts.

ASVS 5.0 6.3.7: notify the person of credential and contact changes, so a change they did not
make does not go unnoticed. Messages go through the outbox in the caller's transaction.
"""

from __future__ import annotations

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
