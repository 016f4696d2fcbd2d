"""What the self-service journeys (registration, password reset) keep between their pages: the
journey this browser holds, and the login page (interaction) to return to at the end."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from idp.context import Context
from idp.http import cookies
from idp.sessions import interactions
from idp.web.forms import TOKEN, locale_of

_INTERACTION = re.compile(r"/interaction/([A-Za-z0-9_-]{16,64})")


def return_interaction(value: str | None) -> str | None:
    """The interaction id in a ``return`` value of exactly ``/interaction/<id>``, else None:
    a page that links back to the login page can never be made an open redirect."""
    found = _INTERACTION.fullmatch(value or "")
    return found.group(1) if found else None


def return_path(interaction_id: str | None) -> str | None:
    return f"/interaction/{interaction_id}" if interaction_id else None


def with_return(path: str, interaction_id: str | None) -> str:
    """``path``, carrying the interaction to come back to as ``?return=``."""
    if not interaction_id:
        return path
    return path + "?" + urlencode({"return": f"/interaction/{interaction_id}"})


async def interaction_locale(request: Request, ctx: Context, interaction_id: str | None) -> str:
    """The page language: the RP's ``ui_locales`` when coming from its login page."""
    ui_locales = None
    if interaction_id:
        browser = cookies.read(request, cookies.BROWSER, ctx.settings)
        async with ctx.db.read() as session:
            row = await interactions.find(session, ctx.clock.now(), interaction_id, browser)
        if row is not None:
            ui_locales = interactions.ui_locales(row)
    return locale_of(request, ui_locales)


@dataclass(frozen=True, slots=True)
class Held:
    """What a browser holds of a journey in progress (a registration, a password reset): its
    id, its secret, and the interaction to return to. Kept in an HttpOnly cookie, never in a
    URL."""

    id: uuid.UUID
    token: str
    interaction_id: str | None = None

    def encode(self) -> str:
        parts = [str(self.id), self.token]
        return ".".join([*parts, self.interaction_id] if self.interaction_id else parts)

    @classmethod
    def decode(cls, raw: str | None) -> Held | None:
        parts = (raw or "").split(".")
        if len(parts) not in (2, 3) or not TOKEN.fullmatch(parts[1]):
            return None
        try:
            journey_id = uuid.UUID(parts[0])
        except ValueError:
            return None
        interaction_id = return_interaction(f"/interaction/{parts[2]}") if len(parts) == 3 else None
        return cls(journey_id, parts[1], interaction_id)

    @classmethod
    def read(cls, request: Request, ctx: Context, base: str) -> Held | None:
        return cls.decode(cookies.read(request, base, ctx.settings))

    def write(self, response: Response, ctx: Context, base: str, max_age: int) -> None:
        cookies.write(response, base, self.encode(), ctx.settings, max_age=max_age)


def register_url(interaction_id: str | None) -> str:
    """Where the login page's "Register" link leads."""
    return with_return("/register", interaction_id)


def reset_url(interaction_id: str | None) -> str:
    """Where the login page's "Forgot your password?" link leads."""
    return with_return("/reset-password", interaction_id)
