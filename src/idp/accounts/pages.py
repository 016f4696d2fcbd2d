"""The page behind the link in a confirmation e-mail: ``/confirm-email?token=…``.

GET shows a button and POST confirms, so mail scanners that open every link cannot use the
token up. Confirming proves the address and nothing more: no session, no cookie but the CSRF
browser id. It serves every e-mail link (a registration's and an account contact's); when this
browser also holds the registration, the page offers to continue it.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from idp.accounts import verification
from idp.accounts.registration import service as registration
from idp.accounts.registration.held import held_registration, next_step
from idp.errors import Conflict, PageError
from idp.http.deps import Ctx, client_ip
from idp.http.routing import PageRouter
from idp.web.forms import (
    TOKEN,
    browser_id,
    checked_form,
    form_page,
    locale_of,
    redirect,
    remember_browser,
)

router = PageRouter()


@router.get("/confirm-email")
async def show_confirm_email(request: Request, ctx: Ctx) -> Response:
    """A button, not an action: mail scanners that open links must not use the token up."""
    locale = locale_of(request, request.query_params.get("ui_locales"))
    token = request.query_params.get("token", "")
    if not TOKEN.fullmatch(token):
        raise PageError("err_link_invalid", "invalid_link", locale=locale)
    browser, new = browser_id(request, ctx)
    response = form_page(
        "confirm_email.html",
        locale,
        token=token,
        csrf_token=ctx.csrf.token_for(browser, "confirm-email"),
    )
    return remember_browser(response, ctx, browser, new)


@router.post("/confirm-email")
async def submit_confirm_email(request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, "confirm-email", locale)
    token = form.get("token", "")
    try:
        if not TOKEN.fullmatch(token):
            raise verification.CodeInvalid("The link is not valid.")
        # Proves the address; no session.
        with registration.contact_taken(registration.EMAIL_TAKEN):
            async with ctx.db.transaction() as session:
                await registration.confirm_email(
                    session, ctx, token, locale=locale, ip=client_ip(request)
                )
    except verification.CodeInvalid:
        raise PageError("err_link_invalid", "invalid_link", locale=locale) from None
    except Conflict:  # confirmed on another account at the same moment
        raise PageError("err_email_taken", "conflict", 409, locale=locale) from None
    return redirect("/confirm-email/done")


@router.get("/confirm-email/done")
async def email_confirmed(request: Request, ctx: Ctx) -> Response:
    current = await held_registration(request, ctx)
    locale = current.locale(request) if current else locale_of(request)
    return form_page(
        "confirm_email.html",
        locale,
        done=True,
        continue_url=next_step(current.row) if current else None,
    )
