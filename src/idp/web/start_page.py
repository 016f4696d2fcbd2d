"""``/``: in dev mode a page of links to what there is to see (discovery, the dev mailbox, the
account console, the demo relying party); otherwise the account console."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from idp.http.deps import Ctx
from idp.http.routing import PageRouter
from idp.web.forms import POLICY, locale_of
from idp.web.render import page

router = PageRouter()
CONSOLE = "/account"


@router.get("/")
async def start(request: Request, ctx: Ctx) -> Response:
    if not ctx.settings.dev_mode:
        return RedirectResponse(CONSOLE, status_code=303)
    # The demo's links are absolute: its cookies and redirect URI live at the issuer's origin,
    # which may not be the name this page was opened by (localhost, 127.0.0.1).
    response = page("start.html", locale_of(request), issuer=ctx.settings.issuer)
    response.headers["Content-Security-Policy"] = POLICY
    return response
