"""Settings as an operator runs idp outside dev mode: everything the start-up checks want
(``idp.startup_checks``). Nothing is sent through the gateway and server named here."""

from __future__ import annotations

from typing import Any

from idp.settings import Settings

ISSUER = "https://idp.example"
SMS_GATEWAY = "https://sms.example/send"
SMTP_HOST = "smtp.example"
REGISTRY_GATEWAY = "https://registries.example"


def production(settings: Settings, **update: Any) -> Settings:
    """``settings`` outside dev mode, with an https issuer, an SMS gateway, an SMTP host and a
    registry gateway."""
    notify = settings.notify.model_copy(
        update={
            "email_backend": "auto",
            "sms_backend": "auto",
            "sms": settings.notify.sms.model_copy(update={"url": SMS_GATEWAY}),
            "smtp": settings.notify.smtp.model_copy(update={"host": SMTP_HOST}),
        }
    )
    registries = settings.registries
    if not (registries.http.base_url or "").startswith("https://"):
        # The test settings' own is the session's simulator, on plain http.
        http = registries.http.model_copy(update={"base_url": REGISTRY_GATEWAY})
        registries = registries.model_copy(update={"http": http})
    return settings.model_copy(
        update={
            "dev_mode": False,
            "issuer": ISSUER,
            "notify": notify,
            "registries": registries,
            **update,
        }
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
        "IDP_REGISTRIES__HTTP__BASE_URL": REGISTRY_GATEWAY,
    }
