"""Settings as an operator runs idp outside dev mode: everything the start-up checks want
(``idp.startup_checks``). Nothing is sent through the gateway and server named here."""

from __future__ import annotations

from typing import Any

from idp.settings import Settings

ISSUER = "https://idp.example"
SMS_GATEWAY = "https://sms.example/send"
SMTP_HOST = "smtp.example"


def production(settings: Settings, **update: Any) -> Settings:
    """``settings`` outside dev mode, with an https issuer, an SMS gateway and an SMTP host."""
    notify = settings.notify.model_copy(
        update={
            "email_backend": "auto",
            "sms_backend": "auto",
            "sms": settings.notify.sms.model_copy(update={"url": SMS_GATEWAY}),
            "smtp": settings.notify.smtp.model_copy(update={"host": SMTP_HOST}),
        }
    )
    return settings.model_copy(
        update={"dev_mode": False, "issuer": ISSUER, "notify": notify, **update}
    )


def production_env() -> dict[str, str]:
    """The same as environment variables, for an ``idp`` process."""
    return {
        "IDP_DEV_MODE": "false",
        "IDP_ISSUER": ISSUER,
        "IDP_NOTIFY__EMAIL_BACKEND": "auto",
        "IDP_NOTIFY__SMS_BACKEND": "auto",
        "IDP_NOTIFY__SMS__URL": SMS_GATEWAY,
        "IDP_NOTIFY__SMTP__HOST": SMTP_HOST,
    }
