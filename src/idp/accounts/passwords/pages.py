"""Password reset pages: the login, then the code with the new password.

The same journey as ``/api/v1/password-resets``. The service checks the code and sets the
password in one step (a code is never checked on its own, so it cannot be probed without a
valid new password), hence one page for both. The answer to a login never says whether it
exists; the reset's id and token travel in an HttpOnly cookie; a reset never logs anyone in
and ends every session of the account.
"""

from __future__ import annotations

import math

from fastapi import Request
from starlette.responses import Response

from idp.accounts import verification
from idp.accounts.errors import TooManyAttempts
from idp.accounts.journey import (
    Held,
    interaction_locale,
    reset_url,
    return_interaction,
    return_path,
    with_return,
)
from idp.accounts.passwords import reset
from idp.context import Context
from idp.db.models import PasswordReset
from idp.errors import NotFound, ValidationFailed
from idp.http import cookies
from idp.http.deps import Ctx, client_ip
from idp.http.routing import PageRouter
from idp.jobs.runner import JobRunner
from idp.security.tokens import digest, same
from idp.web.forms import (
    browser_id,
    checked_form,
    first_invalid,
    form_page,
    locale_of,
    password_errors,
    password_rules,
    redirect,
    remember_browser,
    typed_code,
)
from idp.web.i18n import Translator

router = PageRouter()


async def _open(request: Request, ctx: Context) -> Held | None:
    """The reset this browser holds, if it is still open (read only: the service decides)."""
    held = Held.read(request, ctx, cookies.PASSWORD_RESET)
    if held is None:
        return None
    async with ctx.db.read() as session:
        row = await session.get(PasswordReset, held.id)
    if (
        row is None
        or not same(row.token_hash, digest(held.token))
        or row.expires_at <= ctx.clock.now()
        or row.completed_at is not None
    ):
        return None
    return held


async def _expired(request: Request, ctx: Context) -> Response:
    held = Held.read(request, ctx, cookies.PASSWORD_RESET)
    interaction_id = held.interaction_id if held else None
    locale = await interaction_locale(request, ctx, interaction_id)
    t = Translator(locale)
    response = form_page(
        "restart.html",
        locale,
        400,
        title=t("reset_expired_title"),
        text=t("reset_expired_text"),
        restart_url=reset_url(interaction_id),
        restart_label=t("reset_restart_link"),
    )
    cookies.clear(response, cookies.PASSWORD_RESET, ctx.settings)
    return response


# --- 1. the login ----------------------------------------------------------------------------


def _login_form(
    ctx: Context,
    browser: str,
    locale: str,
    interaction_id: str | None,
    *,
    login: str = "",
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    status: int = 200,
) -> Response:
    return form_page(
        "reset_request.html",
        locale,
        status,
        csrf_token=ctx.csrf.token_for(browser, "reset"),
        return_to=return_path(interaction_id),
        login_value=login,
        errors=errors or {},
        form_error=form_error,
    )


@router.get("/reset-password")
async def show_reset(request: Request, ctx: Ctx) -> Response:
    interaction_id = return_interaction(request.query_params.get("return"))
    locale = await interaction_locale(request, ctx, interaction_id)
    browser, new = browser_id(request, ctx)
    response = _login_form(ctx, browser, locale, interaction_id)
    return remember_browser(response, ctx, browser, new)


@router.post("/reset-password")
async def submit_reset(request: Request, ctx: Ctx) -> Response:
    form = await checked_form(request, ctx, "reset", locale_of(request))
    interaction_id = return_interaction(form.get("return"))
    locale = await interaction_locale(request, ctx, interaction_id)
    t = Translator(locale)
    browser, _ = browser_id(request, ctx)
    login = form.get("login", "").strip()

    def again(errors: dict[str, str], form_error: str | None = None, status: int = 400) -> Response:
        return _login_form(
            ctx,
            browser,
            locale,
            interaction_id,
            login=login,
            errors=errors,
            form_error=form_error,
            status=status,
        )

    if not login:
        return again({"login": t("err_login_required")})
    try:
        async with ctx.db.transaction() as session:
            started = await reset.request_reset(
                session, ctx, login, locale=locale, ip=client_ip(request)
            )
    except ValidationFailed:
        return again({"login": t("err_login_format")})
    except TooManyAttempts as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        response = again({}, t("err_too_many_resets", minutes=minutes), 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    request.app.state.notifications.wake()
    response = redirect("/reset-password/code")
    held = Held(started.id, started.token, interaction_id)
    held.write(response, ctx, cookies.PASSWORD_RESET, ctx.settings.verification.password_reset_ttl)
    return response


# --- 2. the code and the new password ------------------------------------------------------


async def _code_page(
    request: Request,
    ctx: Context,
    held: Held,
    *,
    errors: dict[str, str] | None = None,
    restart: bool = False,
    status: int = 200,
) -> Response:
    locale = await interaction_locale(request, ctx, held.interaction_id)
    t = Translator(locale)
    browser, new = browser_id(request, ctx)
    settings = ctx.settings.verification
    response = form_page(
        "reset_code.html",
        locale,
        status,
        csrf_token=ctx.csrf.token_for(browser, "reset:code"),
        code_length=settings.sms_code_length,
        sms_minutes=max(1, settings.sms_code_ttl // 60),
        email_minutes=max(1, settings.email_code_ttl // 60),
        rules=password_rules(t, ctx.settings.password_policy),
        again_url=reset_url(held.interaction_id),
        restart=restart,
        errors=errors or {},
        focus=first_invalid(errors, "code"),
    )
    return remember_browser(response, ctx, browser, new)


@router.get("/reset-password/code")
async def show_code(request: Request, ctx: Ctx) -> Response:
    held = await _open(request, ctx)
    if held is None:
        return await _expired(request, ctx)
    return await _code_page(request, ctx, held)


@router.post("/reset-password/code")
async def submit_code(request: Request, ctx: Ctx) -> Response:
    held = await _open(request, ctx)
    locale = await interaction_locale(request, ctx, held.interaction_id if held else None)
    form = await checked_form(request, ctx, "reset:code", locale)
    if held is None:
        return await _expired(request, ctx)
    t = Translator(locale)
    code = typed_code(form.get("code", ""))
    password, repeat = form.get("password", ""), form.get("password_repeat", "")
    errors: dict[str, str] = {}
    if code is None:
        errors["code"] = t("err_code_format")
    if not password:
        errors["password"] = t("err_password_required")
    if not repeat:
        errors["password_repeat"] = t("err_password_repeat_required")
    if errors or code is None:
        return await _code_page(request, ctx, held, errors=errors, status=400)
    try:
        reset.refuse_new_password(ctx, password, repeat)
        async with ctx.db.read() as session:
            await reset.check_code_usable(session, ctx, held.id, held.token)
        new_hash = await ctx.passwords.hash(password)  # outside any transaction
        async with ctx.db.transaction() as session:
            checked = await reset.confirm_reset(
                session,
                ctx,
                held.id,
                held.token,
                code=code,
                new_password=password,
                new_hash=new_hash,
                locale=locale,
                ip=client_ip(request),
            )
        if checked.problem is not None:
            raise checked.problem  # after the commit: the wrong attempt stays counted
        ended = checked.ended
    except NotFound:
        return await _expired(request, ctx)
    except ValidationFailed as exc:
        errors = password_errors(t, exc.extra.get("errors", []))
        return await _code_page(request, ctx, held, errors=errors, status=400)
    except verification.CodeInvalid as exc:
        attempts_left = exc.extra.get("attempts_left")
        if attempts_left is None:
            message, restart = t("err_code_expired"), True
        elif attempts_left <= 0:
            message, restart = t("err_reset_code_exhausted"), True
        else:
            message, restart = t("err_code_wrong", attempts=attempts_left), False
        errors = {"code": message}
        return await _code_page(request, ctx, held, errors=errors, restart=restart, status=400)
    request.app.state.notifications.wake()
    dispatcher: JobRunner = request.app.state.jobs
    await dispatcher.run_now(ended.jobs, wait=0)  # RPs are told; a worker retries the rest
    response = redirect(with_return("/reset-password/done", held.interaction_id))
    cookies.clear(response, cookies.PASSWORD_RESET, ctx.settings)
    return response


@router.get("/reset-password/done")
async def reset_done(request: Request, ctx: Ctx) -> Response:
    interaction_id = return_interaction(request.query_params.get("return"))
    locale = await interaction_locale(request, ctx, interaction_id)
    return form_page("reset_done.html", locale, login_url=return_path(interaction_id))
