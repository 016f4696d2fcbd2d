"""Re-posting a cross-site POST from our own origin, so the SSO cookie comes along.

The session cookie is ``SameSite=Lax``: a browser sends it on a cross-site top-level GET but not
on a cross-site POST (RFC 6265bis §5.6.7.1). A relying party that POSTs to ``/authorize`` or
``/logout`` (OIDC Core §3.1.2.1 and RP-Initiated Logout §2 allow POST) would otherwise reach us
without the session: logout would end nothing, and authorize would ask for a login again and
hand the browser a new cookie, orphaning its other tabs. So a POST that arrives without the
cookie and looks cross-site is answered with a page that posts the same parameters again from
this origin (a script submits it; a visible button does when scripts are off). The re-post
carries a marker, so it happens once. It grants nothing a cross-site GET does not already get.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from idp.http import cookies
from idp.settings import Settings
from idp.web.i18n import request_locale
from idp.web.render import page

MARKER = "idp_same_site_repost"
# The page posts only to this origin; Chromium holds the redirect that answers the post to
# form-action as well, so the client's redirect target is allowed too.
_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'{targets}; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _site(url: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:
        return None


def looks_cross_site(request: Request, issuer: str) -> bool:
    """Fetch metadata where the browser sends it; else an ``Origin`` other than ours. (Hosts
    are compared whole: a sibling subdomain counts as another site, which costs it one extra
    page and nothing more.)"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "cross-site"
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or _site(origin) != _site(issuer)


def _source(uri: str) -> str | None:
    """A CSP source for where a redirect may lead, or None when the URI gives none."""
    try:
        parts = urlsplit(uri)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme in ("http", "https") and host and ":" not in host:
        return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    # CSP has no syntax for IPv6 literals; a private-use scheme is a scheme source.
    return f"{parts.scheme}:" if parts.scheme.replace(".", "").isalnum() else None


def same_site_repost(
    request: Request,
    params: Mapping[str, str],
    settings: Settings,
    *,
    targets: Iterable[str | None] = (),
) -> Response | None:
    """The re-post page when this POST came cross-site without the session cookie, else None
    (go on with the request as it is)."""
    if request.method != "POST" or MARKER in params:
        return None
    if cookies.read(request, cookies.SESSION, settings) is not None:
        return None
    if not looks_cross_site(request, settings.issuer):
        return None
    locale = request_locale(request, params.get("ui_locales"))
    response = page(
        "repost.html",
        locale,
        action=request.url.path,
        fields=sorted(params.items()),
        marker=MARKER,
        switcher=False,  # a GET to this address would not post the parameters again
    )
    sources = sorted({s for t in targets if t for s in [_source(t)] if s})
    response.headers["Content-Security-Policy"] = _POLICY.format(
        targets="".join(f" {s}" for s in sources)
    )
    return response
