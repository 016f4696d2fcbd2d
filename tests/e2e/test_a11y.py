"""Every page idp renders, reached for real in Chromium, passes axe-core and works at 375 px.

For each page in ``SCREENS`` and each language (Russian, English): the page is reached the way
a person reaches it, axe-core (installed by ``scripts/ensure-axe``) is injected and run, and
any violation of impact "serious" or "critical" fails the test with its rule, the elements and
axe's advice (a screen may name a rule it cannot meet in ``allow=``, with the reason). The
``<html lang>`` must be the page's language, and a field marked invalid must name its error
(``aria-describedby``). Then the window is narrowed to 375 px: nothing may scroll sideways, the
heading and every control in ``<main>`` must be on screen, axe-core runs again, and each
control, focused, must show an outline that contrasts 3:1 with what is around it.

``test_every_page_route_is_checked`` keeps the table whole: every GET route of the app that
is not a protocol or REST endpoint must be named by a screen or, with the reason, in
``NOT_CHECKED``. A new page fails it until it has an entry.

Adding a page: write its way there as an ``async def`` taking a ``Visit`` and decorate it with
``@screen("name", "/its/route")`` (see the examples below; the route is written as the app
declares it, ``{param}`` included, and the page must be there when the function returns). The
server is the app in dev mode (``pages_server``); ``Visit`` has the usual ways in: an RP's
login page, a signed-in person (``signed_in``), a registration, a password reset.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.async_api import Browser as Chromium
from playwright.async_api import BrowserContext, Page, Route, expect
from starlette.routing import BaseRoute

from idp.app import create_app
from idp.clock import OffsetClock
from idp.context import Context
from idp.http.routing import ApiRoute, ProtocolRoute
from idp.settings import Settings
from tests.e2e.conftest import client_address
from tests.support.factories import RP, Person, make_person, make_rp, random_phone
from tests.support.flows import auth_params
from tests.support.live import LiveServer, free_port
from tests.support.mailbox import email_link, sms_code
from tests.support.my_data_kit import INVALID_PASSPORT, foreign_form, russian_form

AXE = (
    Path(__file__).resolve().parents[2] / "var" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
)
LANGUAGES = {"ru": "ru-RU", "en": "en-US"}
BLOCKING = ("serious", "critical")
NARROW = 375
PASSWORD = "Violet-Orbit-73"
SUBMIT = "main form button[type=submit]:not([name])"


# --- the way to each page ------------------------------------------------------------------


@dataclass
class Visit:
    """A person's browser on the server under test, and what a way to a page may use."""

    page: Page
    base: str
    ctx: Context
    clock: OffsetClock  # the server's; reset after each test
    rp_callback: str
    lang: str
    _rps: dict[str, RP] = field(default_factory=dict)

    async def go(self, path: str) -> None:
        await self.page.goto(self.base + path)

    async def press(self, selector: str = SUBMIT) -> None:
        """Click and wait for the page it leads to."""
        async with self.page.expect_navigation():
            await self.page.locator(selector).first.click()

    async def fill(self, **fields: str) -> None:
        for name, value in fields.items():
            await self.page.locator(f"main [name={name}]").fill(value)

    async def rp(self, kind: str = "plain", **options: Any) -> RP:
        """A relying party whose redirect URI answers in this test (one per kind)."""
        if kind not in self._rps:
            options.setdefault("require_consent", False)
            options.setdefault("name", "Tax service" if self.lang == "en" else "Налоговая служба")
            self._rps[kind] = await make_rp(self.ctx, redirect_uri=self.rp_callback, **options)
        return self._rps[kind]

    async def login_page(self, rp: RP | None = None) -> None:
        params, _ = auth_params(rp or await self.rp())
        await self.go(f"/authorize?{urlencode(params)}")
        await self.page.wait_for_url("**/interaction/*")

    async def log_in(self, person: Person, rp: RP | None = None) -> None:
        """From an RP's authorization request through the login form."""
        await self.login_page(rp)
        await self.fill(login=person.phone, password=person.password)
        await self.press()

    async def signed_in(self, rp: RP | None = None) -> Person:
        """A new person, logged in at ``rp`` and back at its redirect URI."""
        person = await make_person(self.ctx)
        await self.log_in(person, rp)
        await self.page.wait_for_url(lambda url: url.startswith(self.rp_callback + "?"))
        return person

    async def registration(self, *, phone: str | None = None, email: str | None = None) -> None:
        """From the login page's "Register" link through the first form."""
        await self.login_page()
        await self.press("main a[href^='/register']")
        await self.fill(last_name="Сидорова", first_name="Анна")
        await self.fill(
            **({"phone": phone} if phone else {}), **({"email": email} if email else {})
        )
        await self.page.locator("#personal_data_consent").check()  # 152-FZ consent, required
        await self.press()

    async def phone_confirmed(self, email: str | None = None) -> None:
        phone = random_phone()
        await self.registration(phone=phone, email=email)
        code, _ = await sms_code(self.ctx, phone)
        await self.fill(code=code)
        await self.press()

    async def reset_started(self) -> Person:
        person = await make_person(self.ctx)
        await self.login_page()
        await self.press("main a[href^='/reset-password']")
        await self.fill(login=person.phone)
        await self.press()
        return person


Reach = Callable[[Visit], Awaitable[None]]


@dataclass(frozen=True)
class Screen:
    """A page as a person meets it: the GET routes it is served at (the browser must end on
    one of them, or on the POST that rendered it), and the way there."""

    name: str
    routes: tuple[str, ...]
    reach: Reach
    block: tuple[str, ...] = ()  # URL globs left unloaded: scripts that would move on by themselves
    allow: Mapping[str, str] = field(default_factory=dict)  # axe rule id: why it cannot be met


SCREENS: list[Screen] = []


def screen(
    name: str, *routes: str, block: Iterable[str] = (), allow: Mapping[str, str] | None = None
) -> Callable[[Reach], Reach]:
    def register(reach: Reach) -> Reach:
        SCREENS.append(Screen(name, routes, reach, tuple(block), dict(allow or {})))
        return reach

    return register


# Routes that answer GET without a page of idp's own to check, and why.
NOT_CHECKED = {
    "/api/docs": "FastAPI's Swagger UI (dev mode only): a third party's page for developers",
    "/docs/oauth2-redirect": "Swagger UI's OAuth helper: a script, no content",
    "/api/openapi.json": "JSON",
    "/lang": "the language switcher: a 303 back to the page it was used on (checked there)",
    "/theme/{path:path}": "the theme's own files (images, styles), not pages",
    "/theme/colors.css": "the theme's colours as CSS custom properties",
    "/demo/login": "the demo relying party's redirect to /authorize (the login page is checked)",
    "/demo/callback": "the demo's redirect back to /demo once the code is exchanged (checked "
    "by 'demo-signed-in'); a refused answer is the error page",
}


# The start page, the demo relying party and the personal data notice (dev mode).


@screen("start", "/")
async def _start(v: Visit) -> None:
    await v.go("/")
    await v.page.locator("main a[href$='/demo/login']").wait_for()


@screen("demo-signed-out", "/demo")
async def _demo_signed_out(v: Visit) -> None:
    await v.go("/demo")
    await v.page.locator("#demo-status").wait_for()


@screen("demo-signed-in", "/demo")
async def _demo_signed_in(v: Visit) -> None:
    person = await make_person(v.ctx)
    await v.go("/demo/login")
    await v.page.wait_for_url("**/interaction/*")
    await v.fill(login=person.phone, password=person.password)
    await v.press()
    await v.page.locator("button[name=decision][value=allow]").click()
    await v.page.wait_for_url("**/demo")
    await v.page.locator("#id-token-claims").wait_for()


# The account console (a person signed in through a relying party first).


@screen("console-login", "/account/login")
async def _console_login(v: Visit) -> None:
    await v.go("/account")
    await v.page.wait_for_url("**/account/login*")
    await v.page.locator("input[name=login]").wait_for()


async def _console(v: Visit, path: str, marker: str = "main h1") -> None:
    await v.signed_in()
    await v.go(path)
    await v.page.locator(marker).wait_for()


@screen("console-overview", "/account")
async def _console_overview(v: Visit) -> None:
    await _console(v, "/account", "#level")


@screen("console-reauth", "/account/reauth")
async def _console_reauth(v: Visit) -> None:
    await _console(v, "/account/reauth?return=/account/password", "input[name=password]")


@screen("console-contacts", "/account/contacts")
async def _console_contacts(v: Visit) -> None:
    await _console(v, "/account/contacts")


@screen("console-password", "/account/password")
async def _console_password(v: Visit) -> None:
    await _console(v, "/account/password", "input[name=old_password]")


@screen("console-sessions", "/account/sessions")
async def _console_sessions(v: Visit) -> None:
    await _console(v, "/account/sessions")


@screen("console-consents", "/account/consents")
async def _console_consents(v: Visit) -> None:
    await _console(v, "/account/consents")


@screen("console-sign-ins", "/account/sign-ins")
async def _console_sign_ins(v: Visit) -> None:
    await _console(v, "/account/sign-ins")


# "My data": the empty form, refused fields, a check that failed (the reason and the advice),
# a foreign citizen without a SNILS. The suite's server runs the checks.


async def _my_data_saved(v: Visit, **changes: str) -> None:
    person = await v.signed_in()
    await v.go("/account/personal-data")
    form = changes.pop("form", None) or "russian"
    data = foreign_form() if form == "foreign" else russian_form(person, **changes)
    main = v.page.locator("main")
    for name, value in data.items():
        if name == "sex":
            await main.locator(f"#sex-{value}").check()
        elif name in ("citizenship", "document_kind"):
            await main.locator(f"[name={name}]").select_option(value)
        else:
            await main.locator(f"[name={name}]").fill(value)
    await v.press("main form[action='/account/personal-data'] button[type=submit]")


@screen("my-data", "/account/personal-data")
async def _my_data(v: Visit) -> None:
    await _console(v, "/account/personal-data", "#progress")


@screen("my-data-locked", "/account/personal-data")
async def _my_data_locked(v: Visit) -> None:
    await _my_data_saved(v)
    v.clock.advance(v.ctx.settings.console.reauth_within + 1)  # the data needs the password
    await v.page.reload()
    await v.page.locator("#unlock").wait_for()


@screen("my-data-invalid", "/account/personal-data")
async def _my_data_invalid(v: Visit) -> None:
    await _my_data_saved(v, snils="123-456-789 00", birth_date="2999-01-01", last_name="Petrov")
    await v.page.locator(".error-summary").wait_for()


@screen("my-data-check-failed", "/account/personal-data")
async def _my_data_check_failed(v: Visit) -> None:
    series, number = INVALID_PASSPORT
    await _my_data_saved(v, document_series=series, document_number=number)
    # The page refreshes its progress by itself until the ministry's answer is in.
    await v.page.locator("#check-document[data-state=failed]").wait_for(timeout=45_000)
    await v.page.locator("#progress[data-open=no]").wait_for(timeout=45_000)


@screen("my-data-foreign-without-snils", "/account/personal-data")
async def _my_data_foreign(v: Visit) -> None:
    await _my_data_saved(v, form="foreign")
    await v.page.locator("#progress-summary.why-not").wait_for()


# Confirming with a qualified e-signature (/account/confirm): a standard account, the text to
# sign, a refusal said in words, the account confirmed; dev mode's development CA signs.


async def _confirm_page(v: Visit) -> None:
    person = await make_person(v.ctx, level="standard")
    await v.log_in(person)
    await v.page.wait_for_url(lambda url: url.startswith(v.rp_callback + "?"))
    await v.go("/account/confirm")
    await v.page.locator("#qes-app:not([hidden])").wait_for()


async def _confirm_challenge(v: Visit) -> None:
    await _confirm_page(v)
    await v.page.locator("#get-challenge").click()
    await v.page.locator("#challenge:not([hidden])").wait_for()


@screen("confirm-qes", "/account/confirm")
async def _confirm_qes(v: Visit) -> None:
    await _confirm_page(v)


@screen("confirm-qes-challenge", "/account/confirm")
async def _confirm_qes_challenge(v: Visit) -> None:
    await _confirm_challenge(v)
    await v.page.locator("#dev-sign").click()
    await expect(v.page.locator("#signature")).not_to_have_value("")


@screen("confirm-qes-refused", "/account/confirm")
async def _confirm_qes_refused(v: Visit) -> None:
    await _confirm_challenge(v)
    await v.page.locator("#signature").fill("MAMCAQA=")  # DER, but no CMS
    await v.page.locator("#submit-signature").click()
    await v.page.locator("#qes-result .error").wait_for()


@screen("confirm-qes-done", "/account/confirm")
async def _confirm_qes_done(v: Visit) -> None:
    await _confirm_challenge(v)
    await v.page.locator("#dev-sign").click()
    await expect(v.page.locator("#signature")).not_to_have_value("")
    await v.page.locator("#submit-signature").click()
    await v.page.locator("#qes-result .success").wait_for()


@screen("confirm-qes-locked", "/account/confirm")
async def _confirm_qes_locked(v: Visit) -> None:
    await _confirm_page(v)
    v.clock.advance(v.ctx.settings.console.reauth_within + 1)  # signing needs a recent login
    await v.page.reload()
    await v.page.locator("#unlock").wait_for()


@screen("confirm-qes-not-standard", "/account/confirm")
async def _confirm_qes_not_standard(v: Visit) -> None:
    await _console(v, "/account/confirm", "#qes-state")


@screen("privacy-notice", "/privacy")
async def _privacy(v: Visit) -> None:
    await v.go("/privacy")
    await v.page.locator("main h1").wait_for()


# Logging in: the login page, its error, consent, a level not met; an error page.


@screen("error", "/authorize")
async def _error(v: Visit) -> None:
    await v.go("/authorize?" + urlencode({"client_id": "no-such-client", "response_type": "code"}))
    await v.page.locator("main [role=alert]").wait_for()


@screen("login", "/interaction/{interaction_id}")
async def _login(v: Visit) -> None:
    await v.login_page()


@screen("login-failed", "/interaction/{interaction_id}")
async def _login_failed(v: Visit) -> None:
    await v.login_page()
    await v.fill(login="nobody-here@example.ru", password="wrong-password")
    await v.press()
    await v.page.locator("#form-error").wait_for()
    await expect(v.page).to_have_title(re.compile(r"^(Ошибка|Error): "))  # heard first


@screen("consent", "/interaction/{interaction_id}")
async def _consent(v: Visit) -> None:
    await v.log_in(await make_person(v.ctx), await v.rp("consent", require_consent=True))
    await v.page.locator("button[name=decision][value=allow]").wait_for()


@screen("level-not-met", "/interaction/{interaction_id}")
async def _unmet(v: Visit) -> None:
    await v.log_in(await make_person(v.ctx), await v.rp("standard", min_level="standard"))
    await v.page.locator("button[name=decision][value=deny]").wait_for()


@screen("repost", "/authorize", block=["**/static/repost.js"])
async def _repost(v: Visit) -> None:
    """A relying party on another site POSTs to /authorize (web/repost.py)."""
    params, _ = auth_params(await v.rp())
    inputs = "".join(f'<input type="hidden" name="{k}" value="{val}">' for k, val in params.items())
    rp_page = "http://localhost:9/rp"  # another site to the browser, served from here

    async def fulfil(route: Route) -> None:
        body = f'<form method="post" action="{v.base}/authorize">{inputs}<button>go</button></form>'
        await route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)

    await v.page.context.route(rp_page, fulfil)
    await v.page.goto(rp_page)
    await v.press("form button")
    await v.page.locator("form#repost").wait_for()


# Registration: the form and its errors, the phone code, the e-mail link, the password, done.


@screen("register", "/register")
async def _register(v: Visit) -> None:
    await v.login_page()
    await v.press("main a[href^='/register']")


@screen("register-invalid", "/register")
async def _register_invalid(v: Visit) -> None:
    await _register(v)
    await v.press()
    await v.page.locator(".error-summary").wait_for()


@screen("confirm-phone", "/register/phone")
async def _confirm_phone(v: Visit) -> None:
    await v.registration(phone=random_phone())


@screen("confirm-phone-code-resent", "/register/phone")
async def _confirm_phone_resent(v: Visit) -> None:
    await _confirm_phone(v)
    v.clock.advance(v.ctx.settings.verification.resend_cooldown + 1)
    await v.page.reload()
    await v.press("#resend-button")
    await v.page.locator("main .notice[role=status]").wait_for()


@screen("confirm-phone-invalid", "/register/phone")
async def _confirm_phone_invalid(v: Visit) -> None:
    await _confirm_phone(v)
    await v.fill(code="12")
    await v.press()
    await v.page.locator(".error-summary").wait_for()


@screen("email-sent", "/register/email-sent")
async def _email_sent(v: Visit) -> None:
    await v.registration(email=f"a11y-{random_phone()[4:]}@example.ru")


@screen("email-not-yet-confirmed", "/register/email-sent")
async def _email_not_yet(v: Visit) -> None:
    await _email_sent(v)
    await v.press("main a.button")
    await v.page.locator("main [role=alert]").wait_for()


async def _email_link_token(v: Visit) -> str:
    email = f"a11y-{random_phone()[4:]}@example.ru"
    await v.registration(email=email)
    _, token = await email_link(v.ctx, email)
    return token


@screen("confirm-email", "/confirm-email")
async def _confirm_email(v: Visit) -> None:
    await v.go(f"/confirm-email?token={await _email_link_token(v)}")


@screen("email-confirmed", "/confirm-email/done")
async def _email_confirmed(v: Visit) -> None:
    await _confirm_email(v)
    await v.press()
    await v.page.locator("main [role=status]").wait_for()


@screen("create-password", "/register/password")
async def _create_password(v: Visit) -> None:
    await v.phone_confirmed()


@screen("create-password-email-pending", "/register/password")
async def _create_password_email_pending(v: Visit) -> None:
    await v.phone_confirmed(email=f"a11y-{random_phone()[4:]}@example.ru")
    await v.page.locator("main .notice").wait_for()


@screen("create-password-invalid", "/register/password")
async def _create_password_invalid(v: Visit) -> None:
    await v.phone_confirmed()
    await v.fill(password="short", password_repeat="other")
    await v.press()
    await v.page.locator(".error-summary").wait_for()


@screen("register-done", "/register/done")
async def _register_done(v: Visit) -> None:
    await v.phone_confirmed()
    await v.fill(password=PASSWORD, password_repeat=PASSWORD)
    await v.press()
    await v.page.locator("main [role=status]").wait_for()


@screen("registration-expired", "/register/phone")
async def _registration_expired(v: Visit) -> None:
    await v.go("/register/phone")  # without the registration's cookie
    await v.page.locator("main [role=alert]").wait_for()


# A forgotten password: the request and its error, the code and the new password, done.


@screen("reset-request", "/reset-password")
async def _reset_request(v: Visit) -> None:
    await v.login_page()
    await v.press("main a[href^='/reset-password']")


@screen("reset-request-invalid", "/reset-password")
async def _reset_request_invalid(v: Visit) -> None:
    await _reset_request(v)
    await v.press()
    await v.page.locator(".error-summary").wait_for()


@screen("reset-code", "/reset-password/code")
async def _reset_code(v: Visit) -> None:
    await v.reset_started()


@screen("reset-code-invalid", "/reset-password/code")
async def _reset_code_invalid(v: Visit) -> None:
    await v.reset_started()
    await v.fill(code="12", password="short", password_repeat="other")
    await v.press()
    await v.page.locator(".error-summary").wait_for()


@screen("reset-done", "/reset-password/done")
async def _reset_done(v: Visit) -> None:
    person = await v.reset_started()
    code, _ = await sms_code(v.ctx, person.phone)
    await v.fill(code=code, password=PASSWORD, password_repeat=PASSWORD)
    await v.press()
    await v.page.locator("main [role=status]").wait_for()


@screen("reset-expired", "/reset-password/code")
async def _reset_expired(v: Visit) -> None:
    await v.go("/reset-password/code")  # without the reset's cookie
    await v.page.locator("main [role=alert]").wait_for()


# Logging out: the question, staying, the front-channel page, logged out.


@screen("logout-confirm", "/logout")
async def _logout_confirm(v: Visit) -> None:
    await v.signed_in()
    await v.go("/logout")  # no id_token_hint: the person is asked
    await v.page.locator("button[name=decision][value=allow]").wait_for()


@screen("logout-stayed", "/logout/confirm")
async def _logout_stayed(v: Visit) -> None:
    await _logout_confirm(v)
    await v.press("button[name=decision][value=deny]")


@screen(
    "logout-frontchannel",
    "/logout/confirm",
    "/logout",
    allow={
        "meta-refresh": "CONTRACT.md: the page moves on by itself, without JavaScript too, through "
        "<meta http-equiv=refresh> once the RPs' iframes had their time (IDP_LOGOUT__FRONTCHANNEL_"
        "WAIT seconds); it goes where the person asked to go, and offers the link at once",
    },
)
async def _logout_frontchannel(v: Visit) -> None:
    rp = await v.rp("frontchannel", frontchannel_logout_uri=v.rp_callback.replace("/cb", "/fc"))
    await v.signed_in(rp)
    await v.go("/logout")
    await v.press("button[name=decision][value=allow]")
    await v.page.locator("iframe").wait_for(state="attached")


@screen("logged-out", "/logout/done")
async def _logged_out(v: Visit) -> None:
    await v.go("/logout/done")


# Development mode.


@screen("dev-mailbox", "/dev/mailbox")
async def _dev_mailbox(v: Visit) -> None:
    phone = random_phone()
    await v.registration(phone=phone)
    await sms_code(v.ctx, phone)
    await v.go(f"/dev/mailbox?{urlencode({'to': phone})}")
    await v.page.locator("main article").wait_for()


# --- the checks ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages_server(
    settings: Settings, clock: OffsetClock, server: LiveServer
) -> Iterator[LiveServer]:
    """The app as ``make run`` serves it (dev mode) on the suite's database, its own issuer.
    The front-channel logout page waits its longest, so it is still there to be checked.
    Messages are sent by the suite's server (``server``), which runs the jobs."""
    port = free_port()
    pages_settings = settings.model_copy(
        update={
            "issuer": f"http://127.0.0.1:{port}",
            "dev_mode": True,
            "logout": settings.logout.model_copy(update={"frontchannel_wait": 30}),
        }
    )
    live = LiveServer(create_app(pages_settings, clock=clock, run_jobs=False), port).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run scripts/ensure-axe (make test does)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
async def contexts(chromium: Chromium) -> AsyncIterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        await context.close()


def _route_pattern(route: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route)) + "$")


def _violations(result: dict[str, Any], allowed: Mapping[str, str]) -> list[str]:
    lines = []
    for rule in result["violations"]:
        if rule["impact"] not in BLOCKING or rule["id"] in allowed:
            continue
        lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} <{rule['helpUrl']}>")
        for node in rule["nodes"]:
            target = " ".join(" ".join(t) if isinstance(t, list) else t for t in node["target"])
            lines.append(f"    {target}: {node['failureSummary']}".replace("\n", " "))
    return lines


_AXE_RUN = "() => axe.run(document, {resultTypes: ['violations'], iframes: false})"

# A field marked invalid names its error (aria-describedby) and the error is there to read; an
# error printed in a field's box is named by that field.
_UNEXPLAINED = """
() => {
  const found = [];
  const said = (id) => {
    const el = document.getElementById(id);
    return el && (el.matches(".error, [role=alert]") || el.closest(".error-summary"))
      && el.textContent.trim() !== "";
  };
  for (const field of document.querySelectorAll("main [aria-invalid=true]")) {
    const ids = (field.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
    if (!ids.some(said)) found.push(field.outerHTML.slice(0, 120) + ": no error named");
  }
  for (const error of document.querySelectorAll("main .field .error")) {
    const field = error.closest(".field").querySelector("input, select, textarea");
    const ids = (field && field.getAttribute("aria-describedby") || "").split(/\\s+/);
    if (!error.id || !ids.includes(error.id)) found.push(error.outerHTML.slice(0, 120));
  }
  return found;
}
"""

# The controls a person needs: each must be on screen at 375 px (not clipped, not off to
# the side). Controls hidden on purpose (the [hidden] attribute) are left out.
_OFF_SCREEN = """
(width) => {
  const found = [];
  const selector = "h1, input:not([type=hidden]), button, select, textarea, a[href]";
  for (const el of document.querySelectorAll("main :is(" + selector + "), main h1")) {
    if (el.closest("[hidden]")) continue;
    const box = el.getBoundingClientRect();
    const shown = el.checkVisibility({visibilityProperty: true}) && box.width > 0;
    if (!shown || box.left < 0 || box.right > width + 0.5) {
      found.push(el.outerHTML.slice(0, 120) + ` (left ${box.left}, right ${box.right})`);
    }
  }
  return found;
}
"""


# Each control in <main>, focused, shows an outline at least 2 px wide that contrasts at least
# 3:1 with the background around it (WCAG 2.4.7 and 1.4.11); axe does not check focus.
_WEAK_FOCUS = """
(minimum) => {
  const rgb = (css) => {
    const m = css.match(/rgba?\\(([^)]+)\\)/);
    return m ? m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number) : null;
  };
  const luminance = (c) => {
    const f = (v) => (v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const behind = (el) => {
    for (let node = el.parentElement; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c && (c.length < 4 || c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const weak = [];
  const selector = "input:not([type=hidden]), button, select, textarea, a[href]";
  for (const el of document.querySelectorAll("main :is(" + selector + ")")) {
    if (el.closest("[hidden]") || el.disabled || !el.checkVisibility()) continue;
    el.focus();
    const name = el.outerHTML.slice(0, 100);
    if (document.activeElement !== el) { weak.push(name + ": takes no focus"); continue; }
    const style = getComputedStyle(el);
    const color = rgb(style.outlineColor);
    const width = parseFloat(style.outlineWidth);
    const contrast = color ? ratio(color, behind(el)) : 0;
    if (style.outlineStyle === "none" || width < 2 || contrast < minimum) {
      const seen = `outline ${style.outlineStyle} ${width}px, contrast ${contrast.toFixed(2)}`;
      weak.push(`${name}: ${seen}`);
    }
    el.blur();
  }
  return weak;
}
"""


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("entry", SCREENS, ids=[s.name for s in SCREENS])
async def test_page_is_accessible(
    entry: Screen,
    lang: str,
    chromium: Chromium,
    contexts: list[BrowserContext],
    pages_server: LiveServer,
    ctx: Context,
    clock: OffsetClock,
    rp_callback: str,
    axe_source: str,
) -> None:
    context = await chromium.new_context(
        locale=LANGUAGES[lang],
        bypass_csp=True,  # the pages' CSP would refuse the injected axe script
        extra_http_headers={"X-Forwarded-For": client_address()},
    )
    contexts.append(context)
    for glob in entry.block:
        await context.route(glob, lambda route: route.abort())
    page = await context.new_page()
    await entry.reach(Visit(page, pages_server.url, ctx, clock, rp_callback, lang))

    landed = urlsplit(page.url)
    assert landed.netloc == urlsplit(pages_server.url).netloc, page.url
    assert any(_route_pattern(r).match(landed.path) for r in entry.routes), (
        f"{entry.name} ended on {landed.path}, not on one of {entry.routes}"
    )
    assert await page.locator("html").get_attribute("lang") == lang

    await page.add_script_tag(content=axe_source)
    problems = _violations(await page.evaluate(_AXE_RUN), entry.allow)
    assert not problems, f"axe-core on {entry.name} ({lang}):\n" + "\n".join(problems)
    unexplained = await page.evaluate(_UNEXPLAINED)
    assert not unexplained, f"{entry.name} ({lang}), errors not tied to fields:\n" + "\n".join(
        unexplained
    )

    await page.set_viewport_size({"width": NARROW, "height": 740})
    scroll_width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= NARROW, f"{entry.name} ({lang}) scrolls sideways: {scroll_width}px"
    off_screen = await page.evaluate(_OFF_SCREEN, NARROW)
    assert not off_screen, f"{entry.name} ({lang}) at {NARROW}px:\n" + "\n".join(off_screen)
    problems = _violations(await page.evaluate(_AXE_RUN), entry.allow)
    assert not problems, f"axe-core on {entry.name} ({lang}, {NARROW}px):\n" + "\n".join(problems)

    weak_focus = await page.evaluate(_WEAK_FOCUS, 3.0)
    assert not weak_focus, f"{entry.name} ({lang}), focus hard to see:\n" + "\n".join(weak_focus)


def _served(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _served(included.routes) if included is not None else [route]


def test_every_page_route_is_checked(pages_server: LiveServer) -> None:
    """A GET route that is not a protocol or REST endpoint serves a page (or a page's
    redirect): SCREENS or NOT_CHECKED must name it."""
    routes = [r for r in _served(pages_server.app.routes) if getattr(r, "methods", None)]
    pages = {
        r.path: r.methods  # type: ignore[attr-defined]
        for r in routes
        if not isinstance(r, ProtocolRoute | ApiRoute)
    }
    get_pages = {path for path, methods in pages.items() if "GET" in methods}
    named = {route for entry in SCREENS for route in entry.routes}
    missing = get_pages - named - NOT_CHECKED.keys()
    assert not missing, f"pages without an entry in SCREENS (or a reason in NOT_CHECKED): {missing}"
    unknown = (named | NOT_CHECKED.keys()) - pages.keys()
    assert not unknown, f"SCREENS or NOT_CHECKED name routes the app does not have: {unknown}"
