"""The registration this browser holds (its cookie), shared by the registration pages and the
e-mail link page that offers to continue it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from idp.accounts import verification
from idp.accounts.journey import Held
from idp.accounts.registration import service as registration
from idp.context import Context
from idp.db.models import Registration, Verification
from idp.errors import NotFound
from idp.http import cookies
from idp.sessions import interactions
from idp.web.forms import locale_of


@dataclass(frozen=True, slots=True)
class Open:
    held: Held
    row: Registration
    sms: Verification | None
    ui_locales: str | None = None  # of the interaction whose login page it started from

    def locale(self, request: Request) -> str:
        """The language of the journey's pages: its interaction's ``ui_locales`` while that
        interaction waits, then the switcher, then the language it started in."""
        return locale_of(request, self.ui_locales, started_in=self.row.locale)


def held_cookie(request: Request, ctx: Context) -> Held | None:
    return Held.read(request, ctx, cookies.REGISTRATION)


async def held_registration(request: Request, ctx: Context) -> Open | None:
    """The registration this browser holds, if it is still open."""
    held = held_cookie(request, ctx)
    if held is None:
        return None
    async with ctx.db.read() as session:
        try:
            row = await registration.load(session, ctx, held.id, held.token)
        except NotFound:
            return None
        sms = await verification.latest(session, row.id, registration.PURPOSE, "sms")
        pending = None
        if held.interaction_id:
            browser = cookies.read(request, cookies.BROWSER, ctx.settings)
            pending = await interactions.find(
                session, ctx.clock.now(), held.interaction_id, browser
            )
    return Open(held, row, sms, interactions.ui_locales(pending) if pending else None)


def next_step(row: Registration) -> str:
    if row.phone_confirmed_at or row.email_confirmed_at:
        return "/register/password"
    return "/register/phone" if row.phone else "/register/email-sent"
