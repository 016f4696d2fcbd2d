"""``/account/confirm``: confirming the account with a qualified e-signature.

The page shows the account's level. For a standard account with a recent login it offers the
confirmation: ``/static/qes.js`` asks the REST API for a challenge (``POST
/api/v1/me/qes/challenges``), shows its text, takes the signature pasted or read from a file
(base64, PEM or DER) and submits it (``POST /api/v1/me/qes/confirmations``); every refusal is
said in words, from the messages the page carries. In dev mode a second button has the
development CA sign the challenge (``POST /api/v1/me/qes/dev-signature``). A signing plug-in
runs in the browser, so the page needs JavaScript; without it the page says so. An older login
sees a link to ``/account/reauth`` first.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from idp.console.page_kit import console_page, login_url, needs_reauth, reauth_url, signed_in
from idp.http.deps import Ctx
from idp.http.routing import PageRouter
from idp.web.forms import POLICY, locale_of, redirect
from idp.web.i18n import Translator

router = PageRouter()

PATH = "/account/confirm"
# The page runs /static/qes.js, which calls the REST API of the same origin (nothing inline).
QES_POLICY = POLICY.replace(
    "default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';"
)
# Every refusal the REST API can give, said in words (the script shows them by code).
MESSAGE_CODES = (
    "malformed",
    "certificate_missing",
    "unknown_algorithm",
    "digest_mismatch",
    "bad_signature",
    "signing_time",
    "expired",
    "wrong_key_usage",
    "untrusted",
    "revoked",
    "revocation_unavailable",
    "not_qualified",
    "organization-certificate",
    "identity-mismatch",
    "identity-mismatch-snils",
    "identity-mismatch-name",
    "challenge-used",
    "challenge-expired",
    "no-such-challenge",
    "level-too-low",
    "already-confirmed",
    "too-many-challenges",
    "verification-unavailable",
    "no-verified-identity",
    "reauthentication-required",
    "validation-failed",
    "not-authenticated",
    "generic",
    "confirmed",
    "level-confirmed",
)


@router.get(PATH)
async def show_confirm(request: Request, ctx: Ctx) -> Response:
    live = await signed_in(request, ctx)
    if live is None:
        return redirect(login_url(PATH))
    t = Translator(locale_of(request))
    account = live.account
    response = console_page(
        request,
        ctx,
        "confirm.html",
        t.locale,
        section="confirm",
        live=live,
        account=account,
        level=account.level,
        locked=needs_reauth(ctx, live),
        reauth=reauth_url(PATH),
        dev_signer=getattr(request.app.state, "dev_signer", None) is not None,
        messages=[(code, t(f"qes_msg.{code}")) for code in MESSAGE_CODES],
    )
    response.headers["Content-Security-Policy"] = QES_POLICY
    return response
