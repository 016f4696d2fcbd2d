"""Cookie names and attributes: HttpOnly, SameSite=Lax, ``__Host-`` and Secure under https."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idp.settings import Settings

SESSION = "idp_session"
BROWSER = "idp_browser"
REGISTRATION = "idp_registration"  # a self-registration in progress: its id and token
PASSWORD_RESET = "idp_password_reset"  # a password reset in progress: its id and token
DEVICE = "idp_device"  # this browser logged in to these accounts before (idp.security.devices)
LANG = "idp_lang"  # the language the person chose with the switcher (idp.web.language)


def name(base: str, settings: Settings) -> str:
    return f"__Host-{base}" if settings.secure_cookies else base


def read(request: Request, base: str, settings: Settings) -> str | None:
    return request.cookies.get(name(base, settings))


def write(response: Response, base: str, value: str, settings: Settings, max_age: int) -> None:
    response.set_cookie(
        name(base, settings),
        value,
        max_age=max_age,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def clear(response: Response, base: str, settings: Settings) -> None:
    response.delete_cookie(
        name(base, settings),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
