"""Server-rendered pages: Jinja2 with autoescaping, translated, never cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from idp.http.headers import PAGE_CSP
from idp.web.i18n import Translator

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def page(template: str, locale: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    t = Translator(locale)
    html = _ENV.get_template(template).render(t=t, locale=locale, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


# Error pages load only the site's stylesheet and post nowhere.
ERROR_PAGE_CSP = PAGE_CSP.format(targets="").replace(" ;", ";")


def error_page(
    locale: str,
    message: str,
    code: str | None,
    status_code: int = 400,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``error.html``: the page every error on a page route becomes."""
    response = page("error.html", locale, status_code, message=message, error_code=code)
    response.headers["Content-Security-Policy"] = ERROR_PAGE_CSP
    response.headers.update(headers or {})
    return response
