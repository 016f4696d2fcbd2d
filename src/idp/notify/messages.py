"""Notification texts, in Russian and English. Parameters are filled with str.format."""

from __future__ import annotations

from idp.notify.protocol import Channel, Message

TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    # template: {locale: (subject, body)}
    "phone_code": {
        "ru": ("Код подтверждения", "Код подтверждения: {code}. Никому его не сообщайте."),
        "en": ("Confirmation code", "Your confirmation code: {code}. Do not share it."),
    },
    "email_link": {
        "ru": (
            "Подтвердите адрес почты",
            "Чтобы подтвердить адрес, откройте ссылку (действует 3 дня):\n{link}\n\n"
            "Если вы не регистрировались, просто удалите это письмо.",
        ),
        "en": (
            "Confirm your e-mail address",
            "To confirm this address, open the link (valid for 3 days):\n{link}\n\n"
            "If you did not register, just delete this message.",
        ),
    },
    "reset_code": {
        "ru": ("Восстановление пароля", "Код для восстановления пароля: {code}."),
        "en": ("Password reset", "Your password reset code: {code}."),
    },
    "password_changed": {
        "ru": (
            "Пароль изменён",
            "Пароль вашей учётной записи изменён. Если это были не вы, "
            "восстановите доступ и обратитесь в службу поддержки.",
        ),
        "en": (
            "Your password was changed",
            "The password of your account was changed. If it "
            "was not you, reset it and contact support.",
        ),
    },
    "contact_changed": {
        "ru": (
            "Контакты изменены",
            "В вашей учётной записи изменён контакт: {change}. Если это "
            "были не вы, обратитесь в службу поддержки.",
        ),
        "en": (
            "Your contacts were changed",
            "A contact of your account was changed: {change}. If it was not you, contact support.",
        ),
    },
    # A save of personal data that starts new checks (idp.levels.personal_data): no data in it.
    "personal_data_changed": {
        "ru": (
            "Ваши данные изменены",
            "В разделе «Мои данные» вашей учётной записи изменены личные данные, их проверка "
            "началась заново. Если это были не вы, смените пароль и обратитесь в службу "
            "поддержки.",
        ),
        "en": (
            "Your personal data was changed",
            'The personal data in "My data" of your account was changed and is being checked '
            "again. If it was not you, change your password and contact support.",
        ),
    },
    # Registry checks (idp.levels.verification): no personal data, only which check failed.
    "level_standard": {
        "ru": (
            "Учётная запись подтверждена",
            "Ваши данные проверены в государственных реестрах: учётная запись теперь "
            "стандартная. Войдите, чтобы пользоваться услугами, которым она нужна.",
        ),
        "en": (
            "Your account is verified",
            "The state registries confirmed your data: your account is now standard. "
            "Log in to use the services that need it.",
        ),
    },
    # Confirmed with a qualified e-signature (idp.levels.qes): no personal data, no certificate.
    "level_confirmed_qes": {
        "ru": (
            "Учётная запись подтверждена электронной подписью",
            "Ваша учётная запись подтверждена квалифицированной электронной подписью и теперь "
            "подтверждённая. Если это были не вы, смените пароль и обратитесь в службу "
            "поддержки.",
        ),
        "en": (
            "Your account is confirmed with an e-signature",
            "Your account was confirmed with a qualified electronic signature and is now "
            "confirmed. If it was not you, change your password and contact support.",
        ),
    },
    "checks_failed": {
        "ru": (
            "Проверка данных не пройдена",
            "Не пройдена: {checks}. Учётная запись остаётся упрощённой. Откройте раздел "
            "«Мои данные», чтобы узнать причину и что сделать.",
        ),
        "en": (
            "The check of your data failed",
            'Failed: {checks}. Your account stays simplified. Open "My data" to see why '
            "and what to do.",
        ),
    },
}


def render(
    channel: Channel, to: str, template: str, locale: str, params: dict[str, str]
) -> Message:
    variants = TEXTS[template]
    subject, body = variants.get(locale) or variants["ru"]
    return Message(channel=channel, to=to, subject=subject, body=body.format(**params))
