"""Server-rendered pages: Jinja2 with autoescaping, translated, never cached.

Every page carries the same frame (``base.html``): the brand (``idp.web.theme``), the language
switcher and the footer. What the frame needs from the request (the theme, the path to come
back to, whether ``ui_locales`` fixed the language) is read from the request being served,
which ``PageScope`` keeps for the renderer, so no page has to hand it down.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from idp.http.headers import PAGE_CSP
from idp.web.i18n import LOCALES, Translator
from idp.web.language import switch_url
from idp.web.theme import Link, Theme

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
_SCOPE: ContextVar[Scope | None] = ContextVar("idp_page_scope", default=None)


class PageScope:
    """Keeps the request being served for ``page`` (pure ASGI, outermost)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _SCOPE.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _SCOPE.reset(token)


@dataclass(frozen=True, slots=True)
class Frame:
    """What ``base.html`` draws around every page."""

    name: str
    logo: str | None
    colors: bool
    languages: tuple[tuple[str, str, str | None], ...]  # (locale, its name, link or None)
    footer: tuple[tuple[str, str], ...]
    support: Link | None


def _frame(t: Translator, switcher: bool) -> Frame:
    scope = _SCOPE.get()
    app = scope.get("app") if scope else None
    theme: Theme = getattr(getattr(app, "state", None), "theme", None) or Theme()
    state = scope.get("state", {}) if scope else {}
    # A page that answers a GET can be shown again in another language; one that answers a
    # POST cannot (the switcher goes back with GET), nor one whose ui_locales fixed it.
    show = (
        switcher
        and scope is not None
        and scope.get("method") == "GET"
        and not state.get("locale_fixed")
    )
    languages = tuple(
        (
            locale,
            t(f"language_{locale}"),
            switch_url(locale, scope["path"], scope.get("query_string", b"").decode("latin-1"))
            if show and scope is not None and locale != t.locale
            else None,
        )
        for locale in LOCALES
    )
    return Frame(
        name=theme.name_in(t.locale) or t("service_name"),
        logo=theme.logo,
        colors=bool(theme.colors),
        languages=languages if show else (),
        footer=tuple((link.text(t.locale), link.href) for link in theme.footer_links),
        support=theme.support,
    )


def page(template: str, locale: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` in ``locale`` within the frame; ``switcher=False`` leaves the language
    switcher out (a page that a GET to its address would not show again)."""
    t = Translator(locale)
    frame = _frame(t, bool(context.pop("switcher", True)))
    html = _ENV.get_template(template).render(t=t, locale=locale, frame=frame, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


# Error pages load only the site's stylesheets and images and post nowhere.
ERROR_PAGE_CSP = PAGE_CSP.format(targets="").replace(" ;", ";")


def error_page(
    locale: str,
    message: str,
    code: str | None,
    status_code: int = 400,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """``error.html``: the page every error on a page route becomes."""
    response = page("error.html", locale, status_code, message=message, error_code=code, **context)
    response.headers["Content-Security-Policy"] = ERROR_PAGE_CSP
    response.headers.update(headers or {})
    return response
