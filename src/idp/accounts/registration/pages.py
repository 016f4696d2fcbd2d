"""Self-registration pages: names and contacts, the SMS code, the e-mail link, the password.

The same journey as ``/api/v1/registrations``, server-rendered and usable without JavaScript.
The registration's id and token travel in an HttpOnly cookie (never in a URL); every form
carries a CSRF token; every successful POST answers 303 (RFC 9110 §15.4.4), so a reload never
posts twice. A registration started from the login page remembers its interaction and links
back to it at the end; ``return`` accepts nothing but ``/interaction/<id>``, so it is never an
open redirect.
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
    register_url,
    return_interaction,
    return_path,
    with_return,
)
from idp.accounts.registration import service as registration
from idp.accounts.registration.held import Open, held_cookie, held_registration, next_step
from idp.context import Context
from idp.db.models import Registration
from idp.errors import Conflict, NotFound, ValidationFailed
from idp.http import cookies
from idp.http.deps import Ctx, client_ip
from idp.http.routing import PageRouter
from idp.jobs.runner import JobRunner
from idp.sessions.service import find_live_session
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

_NAME_FIELDS = ("last_name", "first_name", "middle_name")


def _expired(request: Request, ctx: Context) -> Response:
    held = held_cookie(request, ctx)
    locale = locale_of(request)
    t = Translator(locale)
    response = form_page(
        "restart.html",
        locale,
        400,
        title=t("registration_expired_title"),
        text=t("registration_expired_text"),
        restart_url=register_url(held.interaction_id if held else None),
        restart_label=t("restart_link"),
    )
    cookies.clear(response, cookies.REGISTRATION, ctx.settings)
    return response


async def _finished_or_expired(request: Request, ctx: Context) -> Response:
    """The password page of a registration this browser can no longer continue: the done page
    when it already made its account (a double submit, a second tab: the first answer signed
    the browser in), else "start again". Neither signs anyone in."""
    held = held_cookie(request, ctx)
    if held is not None:
        async with ctx.db.read() as session:
            done = await registration.finished(session, held.id, held.token)
        if done:
            response = redirect(with_return("/register/done", held.interaction_id))
            cookies.clear(response, cookies.REGISTRATION, ctx.settings)
            return response
    return _expired(request, ctx)


def _wake_outbox(request: Request) -> None:
    request.app.state.notifications.wake()


# --- 1. names and contacts -----------------------------------------------------------------


def _register_form(
    ctx: Context,
    browser: str,
    locale: str,
    interaction_id: str | None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    status: int = 200,
) -> Response:
    return form_page(
        "register.html",
        locale,
        status,
        csrf_token=ctx.csrf.token_for(browser, "register"),
        return_to=return_path(interaction_id),
        privacy_notice_url=ctx.settings.privacy_notice_url,
        privacy_notice_version=ctx.settings.privacy_notice_version,
        values=values or {},
        errors=errors or {},
        form_error=form_error,
        focus=first_invalid(errors, "last_name", contact="phone"),
    )


@router.get("/register")
async def show_register(request: Request, ctx: Ctx) -> Response:
    interaction_id = return_interaction(request.query_params.get("return"))
    locale = await interaction_locale(request, ctx, interaction_id)
    browser, new = browser_id(request, ctx)
    response = _register_form(ctx, browser, locale, interaction_id)
    return remember_browser(response, ctx, browser, new)


def _page_errors(t: Translator, problems: list[registration.FieldProblem]) -> dict[str, str]:
    """The service's field problems as page texts, keyed by the form's fields."""
    errors: dict[str, str] = {}
    for problem in problems:
        if problem.code == "contact_required":
            errors.setdefault("contact", t("err_contact_required"))
        elif problem.code == "required":
            errors.setdefault(problem.field, t(f"err_required_{problem.field}"))
        elif problem.code == "name":
            errors.setdefault(problem.field, t("err_name"))
        else:
            errors.setdefault(problem.field, t(f"err_{problem.code}"))
    return errors


@router.post("/register")
async def submit_register(request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, "register", locale)
    interaction_id = return_interaction(form.get("return"))
    locale = await interaction_locale(request, ctx, interaction_id)
    t = Translator(locale)
    browser, _ = browser_id(request, ctx)
    values = {k: form.get(k, "") for k in (*_NAME_FIELDS, "phone", "email")}
    consent = form.get(registration.CONSENT_FIELD) == "yes"
    values[registration.CONSENT_FIELD] = "yes" if consent else ""

    def again(errors: dict[str, str], form_error: str | None = None, status: int = 400) -> Response:
        form_errors = {k: v for k, v in errors.items() if k != "form"}
        return _register_form(
            ctx,
            browser,
            locale,
            interaction_id,
            values=values,
            errors=form_errors,
            form_error=form_error or errors.get("form"),
            status=status,
        )

    data = registration.RegistrationInput(
        last_name=values["last_name"],
        first_name=values["first_name"],
        middle_name=values["middle_name"] or None,
        phone=values["phone"] or None,
        email=values["email"] or None,
        consent=consent,
        notice_version=form.get("privacy_notice_version") or None,
    )
    errors = _page_errors(t, registration.field_problems(data))
    if errors:
        return again(errors)
    try:
        async with ctx.db.transaction() as session:
            started = await registration.start(session, ctx, data, locale, ip=client_ip(request))
    except registration.NoticeChanged:
        # Shown an older notice (the operator changed it meanwhile): agree to the current one.
        values[registration.CONSENT_FIELD] = ""
        return again({registration.CONSENT_FIELD: t("err_notice_changed")}, status=409)
    except TooManyAttempts as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        response = again({}, t("err_too_many_sends", minutes=minutes), 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    _wake_outbox(request)
    held = Held(started.registration.id, started.token, interaction_id)
    response = redirect(next_step(started.registration))
    held.write(response, ctx, cookies.REGISTRATION, ctx.settings.verification.registration_ttl)
    return response


@router.get("/privacy")
async def privacy_notice(request: Request, ctx: Ctx) -> Response:
    """The bundled notice on the processing of personal data; an operator publishes their own
    and points ``IDP_PRIVACY_NOTICE_URL`` at it."""
    locale = locale_of(request)
    return form_page("privacy.html", locale, version=ctx.settings.privacy_notice_version)


# --- 2. the SMS code -----------------------------------------------------------------------


def _phone_page(
    request: Request,
    ctx: Context,
    current: Open,
    *,
    wait: int | None = None,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    restart: bool = False,
    status: int = 200,
) -> Response:
    locale = current.locale(request)
    browser, new = browser_id(request, ctx)
    settings = ctx.settings.verification
    if wait is None:
        wait = verification.resend_available_in(ctx, current.sms) if current.sms else 0
    response = form_page(
        "confirm_phone.html",
        locale,
        status,
        scripts=True,
        csrf_token=ctx.csrf.token_for(browser, "register:phone"),
        resend_token=ctx.csrf.token_for(browser, "register:resend"),
        phone=current.row.phone,
        email=current.row.email,
        code_length=settings.sms_code_length,
        code_minutes=max(1, settings.sms_code_ttl // 60),
        wait=wait,
        resent=request.query_params.get("resent") == "1" and not errors and not form_error,
        errors=errors or {},
        form_error=form_error,
        restart_url=register_url(current.held.interaction_id) if restart else None,
    )
    return remember_browser(response, ctx, browser, new)


@router.get("/register/phone")
async def show_phone(request: Request, ctx: Ctx) -> Response:
    current = await held_registration(request, ctx)
    if current is None:
        return _expired(request, ctx)
    if current.row.phone is None or current.row.phone_confirmed_at is not None:
        return redirect(next_step(current.row))
    return _phone_page(request, ctx, current)


@router.post("/register/phone")
async def submit_phone(request: Request, ctx: Ctx) -> Response:
    current = await held_registration(request, ctx)
    locale = current.locale(request) if current else locale_of(request)
    form = await checked_form(request, ctx, "register:phone", locale)
    if current is None:
        return _expired(request, ctx)
    t = Translator(locale)
    code = typed_code(form.get("code", ""))
    if code is None:
        return _phone_page(request, ctx, current, errors={"code": t("err_code_format")}, status=400)
    held = current.held
    try:
        async with ctx.db.transaction() as session:
            checked = await registration.confirm_phone(session, ctx, held.id, held.token, code)
        if checked.problem is not None:
            raise checked.problem  # after the commit: the wrong attempt stays counted
        row = checked.registration
    except NotFound:
        return _expired(request, ctx)
    except verification.CodeInvalid as exc:
        attempts_left = exc.extra.get("attempts_left")
        if attempts_left is None:
            message, restart = t("err_code_expired"), False
        elif attempts_left <= 0:
            message, restart = t("err_code_exhausted"), True
        else:
            message, restart = t("err_code_wrong", attempts=attempts_left), False
        refreshed = await held_registration(request, ctx) or current
        return _phone_page(
            request, ctx, refreshed, errors={"code": message}, restart=restart, status=400
        )
    return redirect(next_step(row))


@router.post("/register/phone/resend")
async def resend_phone(request: Request, ctx: Ctx) -> Response:
    current = await held_registration(request, ctx)
    locale = current.locale(request) if current else locale_of(request)
    await checked_form(request, ctx, "register:resend", locale)
    if current is None:
        return _expired(request, ctx)
    t = Translator(locale)
    held = current.held
    try:
        async with ctx.db.transaction() as session:
            await registration.resend_phone(
                session, ctx, held.id, held.token, ip=client_ip(request)
            )
    except NotFound:
        return _expired(request, ctx)
    except verification.ResendTooSoon as exc:
        message = t("err_resend_too_soon", seconds=exc.retry_after)
        response = _phone_page(
            request, ctx, current, wait=exc.retry_after, form_error=message, status=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except TooManyAttempts as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        message = t("err_too_many_sends", minutes=minutes)
        response = _phone_page(
            request, ctx, current, wait=exc.retry_after, form_error=message, status=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except verification.CodeInvalid:
        return _phone_page(
            request, ctx, current, form_error=t("err_code_exhausted"), restart=True, status=400
        )
    _wake_outbox(request)
    return redirect("/register/phone?resent=1")


# --- the e-mail link (followed on idp.accounts.pages) ------------------------------


@router.get("/register/email-sent")
async def show_email_sent(request: Request, ctx: Ctx) -> Response:
    current = await held_registration(request, ctx)
    if current is None:
        return _expired(request, ctx)
    if current.row.email is None or current.row.email_confirmed_at is not None:
        return redirect(next_step(current.row))
    ttl = ctx.settings.verification.email_link_ttl
    locale = current.locale(request)
    return form_page(
        "email_sent.html",
        locale,
        email=current.row.email,
        days=ttl // 86400 if ttl % 86400 == 0 else None,
        hours=max(1, ttl // 3600),
        waiting=request.query_params.get("waiting") == "1",
    )


# --- 3. the password -----------------------------------------------------------------------


def _password_page(
    request: Request,
    ctx: Context,
    current: Open,
    *,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    status: int = 200,
) -> Response:
    locale = current.locale(request)
    browser, new = browser_id(request, ctx)
    row = current.row
    response = form_page(
        "create_password.html",
        locale,
        status,
        csrf_token=ctx.csrf.token_for(browser, "register:password"),
        rules=password_rules(Translator(locale), ctx.settings.password_policy),
        unconfirmed_email=row.email if row.email and row.email_confirmed_at is None else None,
        errors=errors or {},
        form_error=form_error,
        focus=first_invalid(errors, "password"),
    )
    return remember_browser(response, ctx, browser, new)


def _waiting_for_contact(row: Registration) -> str:
    return "/register/phone" if row.phone else "/register/email-sent?waiting=1"


@router.get("/register/password")
async def show_password(request: Request, ctx: Ctx) -> Response:
    current = await held_registration(request, ctx)
    if current is None:
        return await _finished_or_expired(request, ctx)
    if current.row.phone_confirmed_at is None and current.row.email_confirmed_at is None:
        return redirect(_waiting_for_contact(current.row))
    return _password_page(request, ctx, current)


@router.post("/register/password")
async def submit_password(request: Request, ctx: Ctx) -> Response:
    current = await held_registration(request, ctx)
    locale = current.locale(request) if current else locale_of(request)
    form = await checked_form(request, ctx, "register:password", locale)
    if current is None:
        return await _finished_or_expired(request, ctx)
    t = Translator(locale)
    password, repeat = form.get("password", ""), form.get("password_repeat", "")
    if not password or not repeat:
        missing = {"password": t("err_password_required")} if not password else {}
        if not repeat:
            missing["password_repeat"] = t("err_password_repeat_required")
        return _password_page(request, ctx, current, errors=missing, status=400)
    held = current.held
    try:
        async with ctx.db.read() as session:
            row = await registration.load(session, ctx, held.id, held.token)
        registration.check_password_choice(ctx, row, password, repeat)
        password_hash = await ctx.passwords.hash(password)  # outside any transaction
        with registration.contact_taken(registration.CONTACT_TAKEN):
            async with ctx.db.transaction() as session:
                account = await registration.complete(
                    session, ctx, held.id, held.token, password_hash
                )
                # Signed in at once in this browser (issue 9): the console is one click away.
                signed_in = await registration.sign_in(
                    session,
                    ctx,
                    account,
                    previous=await find_live_session(
                        session,
                        cookies.read(request, cookies.SESSION, ctx.settings),
                        ctx.clock.now(),
                        ctx.settings.sessions,
                    ),
                    user_agent=request.headers.get("user-agent"),
                    ip=client_ip(request),
                )
    except NotFound:
        return await _finished_or_expired(request, ctx)
    except registration.ContactNotConfirmed:
        return redirect(_waiting_for_contact(current.row))
    except ValidationFailed as exc:
        errors = password_errors(t, exc.extra.get("errors", []))
        return _password_page(request, ctx, current, errors=errors, status=400)
    except Conflict:
        return _password_page(request, ctx, current, form_error=t("err_contact_taken"), status=409)
    response = redirect(with_return("/register/done", held.interaction_id))
    cookies.clear(response, cookies.REGISTRATION, ctx.settings)
    device = ctx.devices.remember(cookies.read(request, cookies.DEVICE, ctx.settings), account.id)
    cookies.write_sign_in(response, ctx.settings, session=signed_in.cookie, device=device)
    dispatcher: JobRunner = request.app.state.jobs
    await dispatcher.run_now(signed_in.replaced.jobs, wait=0)
    return response


@router.get("/register/done")
async def registration_done(request: Request, ctx: Ctx) -> Response:
    interaction_id = return_interaction(request.query_params.get("return"))
    locale = await interaction_locale(request, ctx, interaction_id)
    return form_page("register_done.html", locale, login_url=return_path(interaction_id))
