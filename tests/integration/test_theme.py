"""Branding from settings and a theme directory: the name, logo, colours and footer links on
every page, the theme's files served from this origin, nothing outside the directory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from idp.clock import OffsetClock
from idp.settings import BrandSettings, ConfigurationError, Settings
from idp.web.theme import load_theme
from tests.support.api_kit import serve_variant
from tests.support.live import LiveServer

LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'


@pytest.fixture(scope="module")
def theme_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outside")
    (root / "secret.txt").write_text("not for the web")
    theme = root / "theme"
    theme.mkdir()
    (theme / "theme.json").write_text(
        json.dumps(
            {
                "name": {"ru": "Портал Области", "en": "Region Portal"},
                "logo": "/theme/logo.svg",
                "colors": {"primary": "#7a1f5c", "accent": "rgb(240, 165, 0)"},
                "footer_links": [
                    {"label": {"ru": "Правила", "en": "Terms"}, "url": "/theme/terms.html"},
                    {"label": "Поддержка", "url": "https://help.region.example/"},
                ],
            }
        )
    )
    (theme / "logo.svg").write_bytes(LOGO)
    (theme / ".hidden").write_text("hidden")
    # An operator who points IDP_THEME_DIR at the wrong directory (IDP_VAR_DIR, /etc/idp):
    # none of these is part of a theme, none is served.
    for name in ("kek", "idp.db", "idp.sqlite3", "idp.env", "secrets.json", "notes.txt"):
        (theme / name).write_text("not for the web")
    (theme / "innocent.svg").symlink_to(theme / "kek")  # a link inside, to a file not served
    (theme / "escape").symlink_to(root / "secret.txt")
    return theme


@pytest.fixture(scope="module")
def themed(
    settings: Settings, clock: OffsetClock, server: LiveServer, theme_dir: Path
) -> Iterator[LiveServer]:
    live = serve_variant(settings, clock, theme_dir=theme_dir)
    yield live
    live.stop()


@pytest.fixture
async def http(themed: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=themed.url) as client:
        yield client


async def test_pages_carry_the_brand(http: httpx.AsyncClient) -> None:
    page = await http.get("/register", headers={"Accept-Language": "ru"})
    assert page.status_code == 200
    assert "<title>Регистрация — Портал Области</title>" in page.text
    assert '<img src="/theme/logo.svg" alt="" class="logo"> Портал Области' in page.text
    assert '<link rel="stylesheet" href="/theme/colors.css">' in page.text
    assert '<a href="/theme/terms.html">Правила</a>' in page.text
    assert '<a href="https://help.region.example/">Поддержка</a>' in page.text
    english = await http.get("/register", headers={"Accept-Language": "en"})
    assert "Region Portal" in english.text
    assert '<a href="/theme/terms.html">Terms</a>' in english.text


async def test_colours_are_css_custom_properties(http: httpx.AsyncClient) -> None:
    css = await http.get("/theme/colors.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.text == ":root{--idp-primary:#7a1f5c;--idp-accent:rgb(240, 165, 0);}\n"


async def test_theme_files_are_served_from_this_origin(http: httpx.AsyncClient) -> None:
    logo = await http.get("/theme/logo.svg")
    assert logo.status_code == 200
    assert logo.content == LOGO
    assert logo.headers["content-type"] == "image/svg+xml"
    assert "sandbox" in logo.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/theme/%2e%2e/secret.txt",
        "/theme/..%2fsecret.txt",
        "/theme/%2e%2e%2fsecret.txt",
        "/theme/..%5csecret.txt",
        "/theme//etc/passwd",
        "/theme/%2fetc%2fpasswd",
        "/theme/escape",  # a symbolic link out of the directory
        "/theme/.hidden",
        "/theme/",
        "/theme/missing.png",
        "/theme/logo.svg%00.png",
        "/theme/kek",
        "/theme/idp.db",
        "/theme/idp.sqlite3",
        "/theme/idp.env",
        "/theme/secrets.json",
        "/theme/notes.txt",
        "/theme/theme.json",
        "/theme/innocent.svg",
    ],
)
async def test_nothing_outside_the_theme_is_served(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 404
    assert "not for the web" not in response.text


async def test_without_a_theme_pages_keep_todays_look(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/register", headers={"Accept-Language": "ru"})
        assert "— Государственная служба идентификации</title>" in page.text
        assert "/theme/colors.css" not in page.text
        assert "<footer>" not in page.text
        assert (await client.get("/theme/logo.svg")).status_code == 404


@pytest.mark.parametrize(
    ("brand", "reason"),
    [
        (BrandSettings(logo="https://cdn.example/logo.png"), "not a path on this origin"),
        (BrandSettings(colors={"primary": "red;}body{display:none"}), "not a CSS colour"),
        (BrandSettings(colors={"Primary!": "red"}), "not a CSS colour"),
        (
            BrandSettings.model_validate(
                {"footer_links": [{"label": "x", "url": "javascript:alert(1)"}]}
            ),
            "footer link",
        ),
    ],
)
def test_a_wrong_brand_stops_start_up_with_one_line(
    settings: Settings, brand: BrandSettings, reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=reason) as refused:
        load_theme(settings.model_copy(update={"brand": brand}))
    assert "\n" not in str(refused.value)


def test_a_notice_url_that_is_no_link_stops_start_up(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="IDP_PRIVACY_NOTICE_URL"):
        load_theme(settings.model_copy(update={"privacy_notice_url": "javascript:alert(1)"}))


def test_a_broken_theme_file_or_missing_directory_stops_start_up(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="not a directory"):
        load_theme(settings.model_copy(update={"theme_dir": tmp_path / "nope"}))
    (tmp_path / "theme.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="not a valid theme"):
        load_theme(settings.model_copy(update={"theme_dir": tmp_path}))


def test_settings_override_the_theme_file(settings: Settings, theme_dir: Path) -> None:
    theme = load_theme(
        settings.model_copy(
            update={
                "theme_dir": theme_dir,
                "brand": BrandSettings(name="Другое имя", colors={"primary": "#000"}),
                "support_contact": "https://help.example/",
            }
        )
    )
    assert theme.name_in("en") == "Другое имя"
    assert theme.colors == {"primary": "#000", "accent": "rgb(240, 165, 0)"}
    assert theme.logo == "/theme/logo.svg"
    assert theme.support is not None
    assert theme.support.href == "https://help.example/"
