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


def write_sign_in(response: Response, settings: Settings, *, session: str, device: str) -> None:
    """What every login leaves in the browser: the SSO session for its absolute lifetime, and
    the device cookie the login throttle recognises (idp.security.devices)."""
    write(response, SESSION, session, settings, max_age=settings.sessions.absolute_ttl)
    write(response, DEVICE, device, settings, settings.throttle.device_cookie_ttl)


def clear(response: Response, base: str, settings: Settings) -> None:
    response.delete_cookie(
        name(base, settings),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )
