"""The account console at ``/account``: server-rendered pages for the signed-in person over
the same services as the REST API. Every form posts to its own page with a CSRF token and
answers 303 on success; nothing needs JavaScript.

A page without a live session sends the browser to ``/account/login`` with the page to come
back to. Changing the password or a contact needs a recent login (``console.reauth_within``);
an older one is sent to ``/account/reauth`` first and then comes back.
"""

from __future__ import annotations

import uuid

from fastapi import Request
from starlette.responses import Response

from idp.accounts import verification
from idp.accounts.contacts import service as contacts
from idp.accounts.errors import InvalidCredentials, TooManyAttempts
from idp.accounts.journey import register_url, reset_url
from idp.accounts.login.service import log_in, log_out
from idp.accounts.passwords.change import WrongPassword
from idp.accounts.passwords.service import change_password
from idp.consents import service as consents
from idp.console import service as console
from idp.console.page_kit import (
    CSRF_PURPOSE,
    HOME,
    console_page,
    done,
    fresh,
    login_url,
    reauthenticate,
    safe_return,
    signed_in,
)
from idp.context import Context
from idp.errors import Conflict, NotFound, ValidationFailed
from idp.http import cookies
from idp.http.deps import Ctx, client_ip
from idp.http.routing import PageRouter
from idp.jobs.runner import JobRunner
from idp.sessions.service import Ended, LiveSession
from idp.web.forms import (
    checked_form,
    locale_of,
    password_errors,
    password_rules,
    redirect,
    typed_code,
)
from idp.web.i18n import Translator

router = PageRouter()

# The confirmations a page may show after a 303 (``?done=``); anything else shows nothing.
_DONE = {
    "password",
    "contact_added",
    "email_sent",
    "contact_confirmed",
    "contact_removed",
    "code_resent",
    "session_ended",
    "sessions_ended",
    "consent_withdrawn",
}


def _done_text(request: Request, t: Translator) -> str | None:
    what = request.query_params.get("done")
    return t(f"console_done_{what}") if what in _DONE else None


async def _run_logout_jobs(request: Request, ended: Ended) -> None:
    dispatcher: JobRunner = request.app.state.jobs
    await dispatcher.run_now(ended.jobs)


def _contact_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("No such contact.") from None


# --- signing in --------------------------------------------------------------------------------


def _login_page(
    request: Request,
    ctx: Context,
    back: str,
    *,
    error: str | None = None,
    login_value: str = "",
    status: int = 200,
) -> Response:
    locale = locale_of(request)
    return console_page(
        request,
        ctx,
        "login.html",
        locale,
        section=None,
        live=None,
        status=status,
        back=back,
        error=error,
        login_value=login_value,
        register_url=register_url(None),
        reset_url=reset_url(None),
    )


@router.get("/account/login")
async def show_login(request: Request, ctx: Ctx) -> Response:
    back = safe_return(request.query_params.get("return"))
    if await signed_in(request, ctx) is not None:
        return redirect(back)
    return _login_page(request, ctx, back)


@router.post("/account/login")
async def submit_login(request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, CSRF_PURPOSE, locale)
    t = Translator(locale)
    back = safe_return(form.get("return"))
    login, password = form.get("login", "").strip(), form.get("password", "")
    try:
        if not login or not password or len(password) > 1024:
            raise InvalidCredentials()
        logged_in = await log_in(
            ctx,
            login,
            password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
            old_cookie=cookies.read(request, cookies.SESSION, ctx.settings),
            device=cookies.read(request, cookies.DEVICE, ctx.settings),
            via="console",
        )
    except InvalidCredentials:
        return _login_page(
            request, ctx, back, error=t("wrong_credentials"), login_value=login, status=400
        )
    except TooManyAttempts as exc:
        response = _login_page(
            request,
            ctx,
            back,
            error=t("too_many_attempts", seconds=exc.retry_after),
            login_value=login,
            status=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = redirect(back)
    cookies.write_sign_in(response, ctx.settings, session=logged_in.cookie, device=logged_in.device)
    await _run_logout_jobs(request, logged_in.replaced)
    return response


@router.post("/account/logout")
async def submit_logout(request: Request, ctx: Ctx) -> Response:
    """Log out of this browser: its session ends with the logout fan-out."""
    await checked_form(request, ctx, CSRF_PURPOSE, locale_of(request))
    ended = await log_out(ctx, cookies.read(request, cookies.SESSION, ctx.settings))
    response = redirect("/logout/done")
    cookies.clear(response, cookies.SESSION, ctx.settings)
    await _run_logout_jobs(request, ended)
    return response


# --- re-authentication -------------------------------------------------------------------------


def _reauth_page(
    request: Request,
    ctx: Context,
    live: LiveSession,
    back: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return console_page(
        request,
        ctx,
        "reauth.html",
        locale_of(request),
        section=None,
        live=live,
        status=status,
        back=back,
        error=error,
        minutes=max(1, ctx.settings.console.reauth_within // 60),
    )


@router.get("/account/reauth")
async def show_reauth(request: Request, ctx: Ctx) -> Response:
    back = safe_return(request.query_params.get("return"))
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url(back))
    return _reauth_page(request, ctx, live, back)


@router.post("/account/reauth")
async def submit_reauth(request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, CSRF_PURPOSE, locale)
    back = safe_return(form.get("return"))
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url(back))
    t = Translator(locale)
    password = form.get("password", "")
    if not password or len(password) > 1024:
        return _reauth_page(request, ctx, live, back, error=t("err_password_required"), status=400)
    try:
        result = await reauthenticate(ctx, live, password, client_ip(request))
    except TooManyAttempts as exc:
        response = _reauth_page(
            request,
            ctx,
            live,
            back,
            error=t("too_many_attempts", seconds=exc.retry_after),
            status=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if result.wrong:
        return _reauth_page(
            request, ctx, live, back, error=t("console_err_wrong_password"), status=400
        )
    if result.cookie is None:  # the session ended or the password changed meanwhile
        response = redirect(login_url(back))
        cookies.clear(response, cookies.SESSION, ctx.settings)
        return response
    response = redirect(back)
    cookies.write(
        response,
        cookies.SESSION,
        result.cookie,
        ctx.settings,
        max_age=ctx.settings.sessions.absolute_ttl,
    )
    return response


# --- overview ----------------------------------------------------------------------------------


@router.get("/account")
async def overview(request: Request, ctx: Ctx) -> Response:
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url(HOME))
    async with ctx.db.read() as session:
        found = await contacts.profile(session, ctx, live.account.id)
    account = found.account
    t = Translator(locale_of(request))
    return console_page(
        request,
        ctx,
        "overview.html",
        t.locale,
        section="overview",
        live=live,
        account=account,
        contacts=found.contacts,
        next_level=console.next_level(account.level),
        notice=_done_text(request, t),
    )


# --- contacts ----------------------------------------------------------------------------------


async def _contacts_page(
    request: Request,
    ctx: Context,
    live: LiveSession,
    *,
    error: str | None = None,
    code_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with ctx.db.read() as session:
        found = await contacts.profile(session, ctx, live.account.id)
    t = Translator(locale_of(request))
    return console_page(
        request,
        ctx,
        "contacts.html",
        t.locale,
        section="contacts",
        live=live,
        status=status,
        contacts=found.contacts,
        confirmed_count=sum(1 for c in found.contacts if c.confirmed_at is not None),
        error=error,
        code_errors=code_errors or {},
        values=values or {},
        code_length=ctx.settings.verification.sms_code_length,
        notice=None if error or code_errors else _done_text(request, t),
    )


@router.get("/account/contacts")
async def show_contacts(request: Request, ctx: Ctx) -> Response:
    live = await fresh(request, ctx, "/account/contacts")
    if isinstance(live, Response):
        return live
    return await _contacts_page(request, ctx, live)


def _contact_problem(t: Translator, exc: Exception) -> str:
    if isinstance(exc, contacts.ContactExists):
        return t("console_err_contact_exists")
    if isinstance(exc, contacts.TooManyContacts):
        return t("console_err_too_many_contacts")
    if isinstance(exc, contacts.LastContact):
        return t("console_err_last_contact")
    if isinstance(exc, Conflict):
        return t("err_contact_taken")
    return t("err_invalid")


@router.post("/account/contacts")
async def add_contact(request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, CSRF_PURPOSE, locale)
    live = await fresh(request, ctx, "/account/contacts")
    if isinstance(live, Response):
        return live
    t = Translator(locale)
    kind, value = form.get("kind", ""), form.get("value", "").strip()
    values = {"kind": kind, "value": value}
    if kind not in ("phone", "email"):
        return await _contacts_page(
            request, ctx, live, error=t("console_err_kind"), values=values, status=400
        )
    try:
        async with ctx.db.transaction() as session:
            await contacts.add_contact(
                session, ctx, live.account.id, kind, value, locale=locale, ip=client_ip(request)
            )
    except ValidationFailed:
        message = t("err_phone") if kind == "phone" else t("err_email")
        return await _contacts_page(request, ctx, live, error=message, values=values, status=400)
    except TooManyAttempts as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        response = await _contacts_page(
            request,
            ctx,
            live,
            error=t("err_too_many_sends", minutes=minutes),
            values=values,
            status=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except (contacts.ContactExists, contacts.TooManyContacts) as exc:
        return await _contacts_page(
            request, ctx, live, error=_contact_problem(t, exc), values=values, status=409
        )
    request.app.state.notifications.wake()
    return done("/account/contacts", "contact_added" if kind == "phone" else "email_sent")


@router.post("/account/contacts/{contact_id}/confirm")
async def confirm_contact(contact_id: str, request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, CSRF_PURPOSE, locale)
    live = await fresh(request, ctx, "/account/contacts")
    if isinstance(live, Response):
        return live
    t = Translator(locale)
    key = _contact_id(contact_id)
    code = typed_code(form.get("code", ""))
    if code is None:
        errors = {str(key): t("err_code_format")}
        return await _contacts_page(request, ctx, live, code_errors=errors, status=400)
    try:
        async with ctx.db.transaction() as session:
            checked = await contacts.confirm_phone(
                session, ctx, live.account.id, key, code, locale=locale, ip=client_ip(request)
            )
        if checked.problem is not None:
            raise checked.problem  # after the commit: the wrong attempt stays counted
    except verification.CodeInvalid as exc:
        left = exc.extra.get("attempts_left")
        if left is None:
            message = t("err_code_expired")
        elif left <= 0:
            message = t("console_err_code_exhausted")
        else:
            message = t("err_code_wrong", attempts=left)
        return await _contacts_page(request, ctx, live, code_errors={str(key): message}, status=400)
    except (contacts.ConfirmByLink, Conflict) as exc:
        status = 409
        return await _contacts_page(
            request, ctx, live, error=_contact_problem(t, exc), status=status
        )
    request.app.state.notifications.wake()
    return done("/account/contacts", "contact_confirmed")


@router.post("/account/contacts/{contact_id}/resend")
async def resend_code(contact_id: str, request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    await checked_form(request, ctx, CSRF_PURPOSE, locale)
    live = await fresh(request, ctx, "/account/contacts")
    if isinstance(live, Response):
        return live
    t = Translator(locale)
    key = _contact_id(contact_id)
    try:
        async with ctx.db.transaction() as session:
            await contacts.resend(session, ctx, live.account.id, key, locale=locale)
    except verification.ResendTooSoon as exc:
        errors = {str(key): t("err_resend_too_soon", seconds=exc.retry_after)}
        response = await _contacts_page(request, ctx, live, code_errors=errors, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except TooManyAttempts as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        errors = {str(key): t("err_too_many_sends", minutes=minutes)}
        response = await _contacts_page(request, ctx, live, code_errors=errors, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except verification.CodeInvalid:
        errors = {str(key): t("console_err_code_exhausted")}
        return await _contacts_page(request, ctx, live, code_errors=errors, status=400)
    request.app.state.notifications.wake()
    return done("/account/contacts", "code_resent")


@router.post("/account/contacts/{contact_id}/remove")
async def remove_contact(contact_id: str, request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    await checked_form(request, ctx, CSRF_PURPOSE, locale)
    live = await fresh(request, ctx, "/account/contacts")
    if isinstance(live, Response):
        return live
    t = Translator(locale)
    key = _contact_id(contact_id)
    try:
        async with ctx.db.transaction() as session:
            await contacts.remove_contact(
                session, ctx, live.account.id, key, locale=locale, ip=client_ip(request)
            )
    except contacts.LastContact as exc:
        return await _contacts_page(request, ctx, live, error=_contact_problem(t, exc), status=409)
    request.app.state.notifications.wake()
    return done("/account/contacts", "contact_removed")


# --- password ----------------------------------------------------------------------------------


def _password_page(
    request: Request,
    ctx: Context,
    live: LiveSession,
    *,
    errors: dict[str, str] | None = None,
    form_error: str | None = None,
    status: int = 200,
) -> Response:
    t = Translator(locale_of(request))
    return console_page(
        request,
        ctx,
        "password.html",
        t.locale,
        section="password",
        live=live,
        status=status,
        rules=password_rules(t, ctx.settings.password_policy),
        errors=errors or {},
        form_error=form_error,
        focus=next(iter(errors or {}), "old_password"),
    )


@router.get("/account/password")
async def show_password(request: Request, ctx: Ctx) -> Response:
    live = await fresh(request, ctx, "/account/password")
    if isinstance(live, Response):
        return live
    return _password_page(request, ctx, live)


@router.post("/account/password")
async def submit_password(request: Request, ctx: Ctx) -> Response:
    locale = locale_of(request)
    form = await checked_form(request, ctx, CSRF_PURPOSE, locale)
    live = await fresh(request, ctx, "/account/password")
    if isinstance(live, Response):
        return live
    t = Translator(locale)
    old = form.get("old_password", "")
    new, repeat = form.get("password", ""), form.get("password_repeat", "")
    missing: dict[str, str] = {}
    if not old:
        missing["old_password"] = t("console_err_old_password_required")
    if not new:
        missing["password"] = t("err_password_required")
    if not repeat:
        missing["password_repeat"] = t("err_password_repeat_required")
    if missing:
        return _password_page(request, ctx, live, errors=missing, status=400)
    if max(len(old), len(new), len(repeat)) > 1024:
        return _password_page(request, ctx, live, form_error=t("err_invalid"), status=400)
    try:
        ended = await change_password(
            ctx,
            live.account.id,
            old_password=old,
            new_password=new,
            new_password_repeat=repeat,
            keep_session=live.record.id,
            locale=locale,
            ip=client_ip(request),
            client_id=None,
        )
    except WrongPassword:
        errors = {"old_password": t("console_err_wrong_password")}
        return _password_page(request, ctx, live, errors=errors, status=400)
    except ValidationFailed as exc:
        found = exc.extra.get("errors", [])
        if any("do not use now" in e.get("message", "") for e in found):
            errors = {"password": t("console_err_same_password")}
        else:
            errors = password_errors(t, found)
        return _password_page(request, ctx, live, errors=errors, status=400)
    except TooManyAttempts as exc:
        response = _password_page(
            request,
            ctx,
            live,
            form_error=t("too_many_attempts", seconds=exc.retry_after),
            status=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Conflict:
        return _password_page(
            request, ctx, live, form_error=t("console_err_password_conflict"), status=409
        )
    request.app.state.notifications.wake()
    await _run_logout_jobs(request, ended)
    return done(HOME, "password")


# --- sessions ----------------------------------------------------------------------------------


@router.get("/account/sessions")
async def show_sessions(request: Request, ctx: Ctx) -> Response:
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url("/account/sessions"))
    async with ctx.db.read() as session:
        rows = await console.sessions_of(session, ctx, live)
    t = Translator(locale_of(request))
    return console_page(
        request,
        ctx,
        "sessions.html",
        t.locale,
        section="sessions",
        live=live,
        rows=rows,
        notice=_done_text(request, t),
    )


def _session_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise console.NoSuchSession("No such active session.") from None


@router.post("/account/sessions/{session_id}/end")
async def end_session(session_id: str, request: Request, ctx: Ctx) -> Response:
    await checked_form(request, ctx, CSRF_PURPOSE, locale_of(request))
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url("/account/sessions"))
    key = _session_id(session_id)
    async with ctx.db.transaction() as session:
        ended = await console.end_own_session(session, ctx, live.account.id, key)
    await _run_logout_jobs(request, ended)
    if live.record.id in ended.session_ids:
        response = redirect("/logout/done")
        cookies.clear(response, cookies.SESSION, ctx.settings)
        return response
    return done("/account/sessions", "session_ended")


@router.post("/account/sessions/end-all")
async def end_all_sessions(request: Request, ctx: Ctx) -> Response:
    form = await checked_form(request, ctx, CSRF_PURPOSE, locale_of(request))
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url("/account/sessions"))
    keep_current = form.get("keep_current") != "no"
    async with ctx.db.transaction() as session:
        ended = await console.end_all_sessions(session, ctx, live, keep_current=keep_current)
    await _run_logout_jobs(request, ended)
    if live.record.id in ended.session_ids:
        response = redirect("/logout/done")
        cookies.clear(response, cookies.SESSION, ctx.settings)
        return response
    return done("/account/sessions", "sessions_ended")


# --- consents ----------------------------------------------------------------------------------


@router.get("/account/consents")
async def show_consents(request: Request, ctx: Ctx) -> Response:
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url("/account/consents"))
    async with ctx.db.read() as session:
        found = await consents.consents_of(session, live.account.id)
    t = Translator(locale_of(request))
    return console_page(
        request,
        ctx,
        "consents.html",
        t.locale,
        section="consents",
        live=live,
        consents=found,
        notice=_done_text(request, t),
    )


@router.post("/account/consents/{client_id}/withdraw")
async def withdraw_consent(client_id: str, request: Request, ctx: Ctx) -> Response:
    await checked_form(request, ctx, CSRF_PURPOSE, locale_of(request))
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url("/account/consents"))
    async with ctx.db.transaction() as session:
        await consents.withdraw(
            session, live.account.id, client_id, now=ctx.clock.now(), ip=client_ip(request)
        )
    return done("/account/consents", "consent_withdrawn")


# --- recent sign-ins ---------------------------------------------------------------------------


@router.get("/account/sign-ins")
async def show_sign_ins(request: Request, ctx: Ctx) -> Response:
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url("/account/sign-ins"))
    async with ctx.db.read() as session:
        found = await console.sign_ins(session, ctx, live.account.id, live.record.id)
    return console_page(
        request,
        ctx,
        "sign_ins.html",
        locale_of(request),
        section="sign_ins",
        live=live,
        sign_ins=found,
    )
