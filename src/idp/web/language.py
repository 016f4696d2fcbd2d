"""The language switcher: ``GET /lang?to=ru&next=/path`` keeps the person's choice in the
``idp_lang`` cookie and goes back to the page it was chosen on.

``next`` is followed only when it is a path on this origin: it starts with one ``/`` and holds
no backslash, whitespace or control character (browsers read ``/\\host`` and ``/<TAB>/host`` as
``//host``, another origin). Anything else leads to ``/``: the switcher is never an open
redirect.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from idp.errors import PageError
from idp.http import cookies
from idp.http.deps import Ctx
from idp.http.routing import PageRouter
from idp.web.i18n import LOCALES

router = PageRouter()
COOKIE_AGE = 365 * 86400
MAX_NEXT = 2048


def safe_next(value: str | None) -> str:
    """``value`` when it is a relative path on this origin, else ``/``."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return "/"
    if value.startswith("//") or any(c == "\\" or c.isspace() or ord(c) < 0x20 for c in value):
        return "/"
    if any(ord(c) == 0x7F or not c.isprintable() for c in value):
        return "/"
    return value


def switch_url(to: str, path: str, query: str = "") -> str:
    """The switcher's link to ``to`` from the page at ``path`` (and its ``query``)."""
    here = path + (f"?{query}" if query else "")
    return "/lang?" + urlencode({"to": to, "next": here})


@router.get("/lang")
async def switch_language(request: Request, ctx: Ctx) -> Response:
    to = request.query_params.get("to", "")
    if to not in LOCALES:
        raise PageError("error_unknown_language", "invalid_request", locale=None)
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    cookies.write(response, cookies.LANG, to, ctx.settings, max_age=COOKIE_AGE)
    response.headers["Cache-Control"] = "no-store"
    return response
