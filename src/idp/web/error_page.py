"""How an error on a page route looks: the text for the error, in the person's language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idp.errors import IdpError, OAuthError, PageError, ServerBusy, UntrustedRedirect
from idp.http.responses import description_text, extra_headers
from idp.web.i18n import Translator, pick_locale
from idp.web.render import error_page


def render_error_page(request: Request, error: IdpError) -> Response:
    """An error on a page route: ``error.html`` in the person's language."""
    preferred = error.locale if isinstance(error, PageError) else None
    locale = pick_locale(preferred, request.headers.get("accept-language"))
    t = Translator(locale)
    code: str | None
    if isinstance(error, ServerBusy):
        message, code = t("error_server_busy"), error.error
    elif error.status_code >= 500 or not error.expose:
        message, code = t("error_generic"), "server_error"
    elif isinstance(error, PageError):
        message, code = t(error.page_key or "error_generic", **error.values), error.code
    elif error.page_key is not None:
        message, code = t(error.page_key), getattr(error, "type_slug", None)
    elif isinstance(error, OAuthError):
        message, code = description_text(error.description) or t("error_generic"), error.error
    elif isinstance(error, UntrustedRedirect):
        message, code = description_text(error.description), error.error
    else:
        described = description_text(error.description or getattr(error, "title", ""))
        message = described or t("error_generic")
        code = getattr(error, "type_slug", None)
    return error_page(locale, message, code, error.status_code, extra_headers(error))
