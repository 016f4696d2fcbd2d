"""How an error on a page route looks: ``error.html``, all of it in the person's language.

The text is chosen by what went wrong, never taken from the error's English description: a
page error's own key, an OAuth error by its RFC code (``oauth_<code>``), a problem by its type
(``problem_<slug>``), else a text for its status. Every error page offers a way back: to the
relying party the person came from when a route named it and its redirect URI is trusted
(``offer_way_back``), otherwise to the account console; and the operator's support contact.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from idp.errors import IdpError, OAuthError, PageError, ServerBusy, UntrustedRedirect
from idp.http.responses import extra_headers
from idp.web.i18n import Translator, request_locale
from idp.web.render import error_page

CONSOLE = "/account"


def site_of(redirect_uri: str) -> str | None:
    """The web origin of a trusted redirect URI (``https://rp.example/``), or None for one
    that has no page to go back to (a native app's private-use scheme)."""
    try:
        parts = urlsplit(redirect_uri)
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}/"


def offer_way_back(request: Request, client_name: str, redirect_uri: str) -> None:
    """An error page for this request offers to go back to this client: call it once the
    client is known and ``redirect_uri`` is registered for it (trusted)."""
    site = site_of(redirect_uri)
    if site is not None:
        request.state.way_back = (client_name, site)


def _message(t: Translator, error: IdpError) -> tuple[str, str | None]:
    if isinstance(error, ServerBusy):
        return t("error_server_busy"), error.error
    if error.status_code >= 500 or not error.expose:
        return t("error_generic"), "server_error"
    if isinstance(error, PageError):
        return t(error.page_key or "error_generic", **error.values), error.code
    if error.page_key is not None:
        return t(error.page_key), getattr(error, "type_slug", None)
    if isinstance(error, UntrustedRedirect):
        key = f"untrusted_{error.error}"
        return t(key if t.has(key) else "oauth_invalid_request"), error.error
    if isinstance(error, OAuthError):
        key = f"oauth_{error.error}"
        return t(key if t.has(key) else "error_bad_request"), error.error
    slug = getattr(error, "type_slug", None)
    key = f"problem_{slug}"
    if slug and t.has(key):
        return t(key), slug
    return t("error_bad_request"), slug if slug != "about:blank" else None


def render_error_page(request: Request, error: IdpError) -> Response:
    """An error on a page route: ``error.html`` in the person's language, with a way back."""
    preferred = error.locale if isinstance(error, PageError) else None
    locale = request_locale(request, preferred)
    t = Translator(locale)
    message, code = _message(t, error)
    way_back = getattr(request.state, "way_back", None)
    if way_back is not None:
        back_label, back_url = t("error_back_to_client", client=way_back[0]), way_back[1]
    else:
        back_label, back_url = t("error_back_to_console"), CONSOLE
    return error_page(
        locale,
        message,
        code,
        error.status_code,
        extra_headers(error),
        back_url=back_url,
        back_label=back_label,
    )
