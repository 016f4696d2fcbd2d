"""Branding: the service's name, logo, colours and footer links, and the support contact.

They come from ``IDP_BRAND__…`` settings, over ``theme.json`` in ``IDP_THEME_DIR``, over the
built-in look. The theme directory's other files (a logo, fonts: the types in
``SERVED_TYPES``, nothing else) are served from this origin under ``/theme/…``, so the pages'
Content-Security-Policy (``'self'``) keeps holding; a path that leaves the directory (``..``, a
symbolic link out of it) is refused. The colours become
CSS custom properties in ``/theme/colors.css`` (no inline style: the policy forbids it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import FileResponse, Response

from idp.errors import NotFound
from idp.http.routing import PageRouter
from idp.settings import BrandSettings, ConfigurationError, Settings

router = PageRouter()

THEME_FILE = "theme.json"
_COLOR_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
# A CSS colour value, and nothing that could end the declaration or the rule.
_COLOR_VALUE = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|(rgb|rgba|hsl|hsla)\([0-9., %/]+\)")
_EMAIL = re.compile(r"[^@\s/:]+@[^@\s/:]+\.[^@\s/:]+")
# What a theme is made of, by file name extension: only these are served. A directory pointed
# at by mistake (IDP_VAR_DIR with its `kek` and SQLite file, /etc/idp with an env file) gives
# away nothing else.
SERVED_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".css": "text/css",
    ".html": "text/html",
    ".pdf": "application/pdf",
}


@dataclass(frozen=True, slots=True)
class Link:
    label: str | dict[str, str]
    href: str

    def text(self, locale: str) -> str:
        return _in(self.label, locale)


@dataclass(frozen=True, slots=True)
class Theme:
    name: str | dict[str, str] | None = None
    logo: str | None = None
    colors: dict[str, str] = field(default_factory=dict)
    footer_links: tuple[Link, ...] = ()
    directory: Path | None = None
    support: Link | None = None

    def name_in(self, locale: str) -> str | None:
        return _in(self.name, locale) if self.name else None

    def css(self) -> str:
        declarations = "".join(f"--idp-{key}:{value};" for key, value in self.colors.items())
        return f":root{{{declarations}}}\n"


def _in(text: str | dict[str, str], locale: str) -> str:
    if isinstance(text, str):
        return text
    return text.get(locale) or text.get("en") or next(iter(text.values()), "")


def _page_href(value: str, what: str, *, mail: bool = False) -> str:
    """A link a page may carry: a path on this origin, an http(s) URL, or (``mail``) an e-mail
    address as ``mailto:``. Anything else (``javascript:``, ``//host``) stops start-up."""
    if mail and _EMAIL.fullmatch(value):
        return f"mailto:{value}"
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    parts = urlsplit(value)
    if (parts.scheme in ("https", "http") and parts.netloc) or (parts.scheme == "mailto" and mail):
        return value
    raise ConfigurationError(f"{what}: not a path, an http(s) URL or an e-mail address: {value!r}")


def _logo(value: str) -> str:
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        # Pages load images from this origin only (img-src 'self'): put it under IDP_THEME_DIR.
        raise ConfigurationError(f"brand logo: not a path on this origin (/theme/…): {value!r}")
    return value


def _colors(colors: dict[str, str]) -> dict[str, str]:
    for key, value in colors.items():
        if not _COLOR_NAME.fullmatch(key) or not _COLOR_VALUE.fullmatch(value.strip()):
            raise ConfigurationError(f"brand colour {key!r}: not a CSS colour: {value!r}")
    return {key: value.strip() for key, value in colors.items()}


def _theme_file(directory: Path) -> BrandSettings:
    path = directory / THEME_FILE
    if not directory.is_dir():
        raise ConfigurationError(f"IDP_THEME_DIR is not a directory: {directory}")
    if not path.exists():
        return BrandSettings()
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return BrandSettings.model_validate(data)
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigurationError(f"{path}: not a valid theme: {reason}") from None


def load_theme(settings: Settings) -> Theme:
    """The theme the pages are drawn with; ``ConfigurationError`` (one line) when it is wrong."""
    directory = settings.theme_dir.resolve() if settings.theme_dir else None
    base = _theme_file(directory) if directory else BrandSettings()
    brand = settings.brand
    links = brand.footer_links if brand.footer_links is not None else base.footer_links
    support = settings.support_contact
    _page_href(settings.privacy_notice_url, "IDP_PRIVACY_NOTICE_URL")  # linked from registration
    return Theme(
        name=brand.name or base.name,
        logo=_logo(logo) if (logo := brand.logo or base.logo) else None,
        colors=_colors({**base.colors, **brand.colors}),
        footer_links=tuple(
            Link(link.label, _page_href(link.url, "footer link")) for link in links or []
        ),
        directory=directory,
        support=Link(support, _page_href(support, "IDP_SUPPORT_CONTACT", mail=True))
        if support
        else None,
    )


def theme_of(request: Request) -> Theme:
    theme: Theme = getattr(request.app.state, "theme", None) or Theme()
    return theme


@router.get("/theme/colors.css", include_in_schema=False)
async def colors(request: Request) -> Response:
    return Response(
        theme_of(request).css(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/theme/{path:path}", include_in_schema=False)
async def theme_file(path: str, request: Request) -> Response:
    """A file of the theme directory; nothing outside it, nothing hidden."""
    root = theme_of(request).directory
    parts = path.split("/")
    if root is None or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise NotFound()
    if "\\" in path or "\x00" in path:
        raise NotFound()
    target = (root / path).resolve()
    media_type = SERVED_TYPES.get(target.suffix.lower())  # of the file a link leads to, too
    if media_type is None or not target.is_relative_to(root) or not target.is_file():
        raise NotFound()
    return FileResponse(
        target,
        media_type=media_type,
        # Opened on its own (an SVG logo), a file runs nothing and reaches nothing.
        headers={
            "Cache-Control": "public, max-age=300",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )
