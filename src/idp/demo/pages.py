"""The demo relying party's pages: ``/demo`` (signed in or not), ``/demo/login``,
``/demo/callback``, and the refresh and logout buttons. Dev mode only (404 otherwise)."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from idp.demo.cookies import FLOW, FLOW_TTL, TOKENS, TOKENS_TTL
from idp.demo.relying_party import RelyingPartyError, Tokens, decoded
from idp.demo.setup import Demo
from idp.errors import NotFound, PageError
from idp.http.deps import Ctx
from idp.http.routing import PageRouter
from idp.web.forms import (
    browser_id,
    checked_form,
    form_page,
    locale_of,
    redirect,
    remember_browser,
)

router = PageRouter()
CSRF_PURPOSE = "demo"


class DemoFailed(PageError):
    """A step of the demo failed: the error page names the step, the code says why."""


async def _demo(request: Request) -> Demo:
    demo: Demo | None = getattr(request.app.state, "demo", None)
    if demo is None:  # outside dev mode the demo does not exist
        raise NotFound()
    return demo


DemoDep = Annotated[Demo, Depends(_demo)]


def _failed(key: str, error: RelyingPartyError, locale: str) -> DemoFailed:
    # 400 even when the provider failed: only errors below 500 show their text, and here the
    # text is the point.
    return DemoFailed(key, error.code, 400, locale=locale)


def _pretty(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)


def _stored_tokens(request: Request, demo: Demo) -> tuple[Tokens, int] | None:
    """The tokens the demo holds for this browser and how often they were refreshed."""
    stored = demo.cookies.read(request, TOKENS)
    try:
        return (Tokens.from_dict(stored), int(stored.get("refreshes", 0))) if stored else None
    except (KeyError, TypeError, ValueError):  # sealed by an older version: start again
        return None


def _tail(token: str | None) -> str | None:
    return f"…{token[-12:]}" if token else None


@router.get("/demo")
async def home(request: Request, ctx: Ctx, demo: DemoDep) -> Response:
    locale = locale_of(request)
    stored = _stored_tokens(request, demo)
    if stored is None:
        return form_page("demo.html", locale, signed_in=False)
    tokens, refreshes = stored
    try:
        status, userinfo = await demo.rp.userinfo(tokens.access_token)
    except RelyingPartyError as exc:
        raise _failed("demo_error_provider", exc, locale) from exc
    browser, new = browser_id(request, ctx)
    response = form_page(
        "demo.html",
        locale,
        signed_in=True,
        claims=_pretty(decoded(tokens.id_token)),
        userinfo=_pretty(userinfo),
        userinfo_status=status,
        access_token=_tail(tokens.access_token),
        refresh_token=_tail(tokens.refresh_token),
        expires_at=datetime.fromtimestamp(tokens.expires_at, UTC).isoformat(timespec="seconds"),
        scope=tokens.scope,
        refreshes=refreshes,
        csrf_token=ctx.csrf.token_for(browser, CSRF_PURPOSE),
    )
    return remember_browser(response, ctx, browser, new)


@router.get("/demo/login")
async def login(request: Request, demo: DemoDep) -> Response:
    locale = locale_of(request)
    try:
        flow = await demo.rp.start(locale)
    except RelyingPartyError as exc:
        raise _failed("demo_error_provider", exc, locale) from exc
    response = redirect(flow.url)
    value = {"state": flow.state, "nonce": flow.nonce, "verifier": flow.verifier}
    demo.cookies.write(response, FLOW, value, FLOW_TTL)
    return response


@router.get("/demo/callback")
async def callback(request: Request, demo: DemoDep) -> Response:
    locale = locale_of(request)
    params = request.query_params
    flow = demo.cookies.read(request, FLOW) or {}
    state = params.get("state") or ""
    expected = str(flow.get("state", ""))
    if not state or not expected or not hmac.compare_digest(expected.encode(), state.encode()):
        # Not the answer to a request this browser made (or made too long ago): nothing is
        # exchanged, nothing is stored (OIDC Core §3.1.2.7, RFC 6749 §10.12).
        raise DemoFailed("demo_error_state", "invalid_state", 400, locale=locale)
    if params.get("iss", demo.rp.issuer) != demo.rp.issuer:
        # RFC 9207 §2.4: an answer from another issuer (mix-up attack) is refused.
        raise DemoFailed("demo_error_token", "issuer_mismatch", 400, locale=locale)
    if "error" in params:
        raise DemoFailed("demo_error_denied", params["error"][:64], 400, locale=locale)
    code = params.get("code")
    if not code:
        raise DemoFailed("demo_error_state", "code_missing", 400, locale=locale)
    try:
        tokens = await demo.rp.redeem(code, str(flow["verifier"]), str(flow["nonce"]))
    except RelyingPartyError as exc:
        raise _failed("demo_error_token", exc, locale) from exc
    response = redirect("/demo")
    demo.cookies.clear(response, FLOW)  # one answer per request: the state is spent
    demo.cookies.write(response, TOKENS, {**tokens.as_dict(), "refreshes": 0}, TOKENS_TTL)
    return response


@router.post("/demo/refresh")
async def refresh(request: Request, ctx: Ctx, demo: DemoDep) -> Response:
    locale = locale_of(request)
    await checked_form(request, ctx, CSRF_PURPOSE, locale)
    stored = _stored_tokens(request, demo)
    if stored is None:
        return redirect("/demo")
    try:
        tokens = await demo.rp.refresh(stored[0])
    except RelyingPartyError as exc:
        raise _failed("demo_error_refresh", exc, locale) from exc
    response = redirect("/demo")
    value = {**tokens.as_dict(), "refreshes": stored[1] + 1}
    demo.cookies.write(response, TOKENS, value, TOKENS_TTL)
    return response


@router.post("/demo/logout")
async def logout(request: Request, ctx: Ctx, demo: DemoDep) -> Response:
    locale = locale_of(request)
    await checked_form(request, ctx, CSRF_PURPOSE, locale)
    stored = _stored_tokens(request, demo)
    if stored is None:
        return redirect("/demo")
    try:
        url = await demo.rp.logout_url(stored[0], locale)
    except RelyingPartyError as exc:
        raise _failed("demo_error_provider", exc, locale) from exc
    response = redirect(url)  # RP-Initiated Logout: the provider ends its session, then /demo
    demo.cookies.clear(response, TOKENS)
    return response
