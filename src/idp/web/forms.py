"""What the self-service form pages share: a strict CSP, the browser id behind CSRF tokens,
reading a posted form once, and translating the service's field errors into page texts."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from idp.context import Context
from idp.errors import OAuthError, PageError
from idp.http import cookies
from idp.http.headers import PAGE_CSP
from idp.http.params import read_form
from idp.security.csrf import Csrf
from idp.web.i18n import Translator, request_locale
from idp.web.render import page

# These pages post only to themselves and load nothing from elsewhere.
POLICY = PAGE_CSP.format(targets="").replace(" ;", ";")
# The phone page also runs /static/countdown.js (and nothing inline).
SCRIPT_POLICY = POLICY.replace("default-src 'none';", "default-src 'none'; script-src 'self';")
BROWSER_COOKIE_AGE = 400 * 86400  # as long as browsers keep a cookie (RFC 6265bis §5.5)
MAX_FIELD = 2048


TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")  # what idp.security.tokens.new_token makes


class FormRefused(PageError):
    """A posted form that cannot be processed at all: shown as the error page."""


def locale_of(
    request: Request, ui_locales: str | None = None, *, started_in: str | None = None
) -> str:
    """The page's language (``idp.web.i18n.choose_locale``): the RP's ``ui_locales``, the
    switcher's cookie, the language a journey ``started_in``, Accept-Language."""
    return request_locale(request, ui_locales, started_in=started_in)


def form_page(
    template: str, locale: str, status: int = 200, *, scripts: bool = False, **context: object
) -> HTMLResponse:
    response = page(template, locale, status, **context)
    response.headers["Content-Security-Policy"] = SCRIPT_POLICY if scripts else POLICY
    return response


def redirect(location: str) -> RedirectResponse:
    # 303 after a POST: the browser follows with GET, a reload never posts twice.
    return RedirectResponse(location, status_code=303)


def browser_id(request: Request, ctx: Context) -> tuple[str, bool]:
    """The browser's id (the key of its CSRF tokens) and whether it is new."""
    existing = cookies.read(request, cookies.BROWSER, ctx.settings)
    if existing and 16 <= len(existing) <= 64:
        return existing, False
    return Csrf.new_browser_id(), True


def remember_browser(response: Response, ctx: Context, browser: str, new: bool) -> Response:
    if new:
        cookies.write(response, cookies.BROWSER, browser, ctx.settings, BROWSER_COOKIE_AGE)
    return response


async def checked_form(request: Request, ctx: Context, purpose: str, locale: str) -> dict[str, str]:
    """The posted fields, once the CSRF token proves the form came from our page."""
    try:
        form = await read_form(request, MAX_FIELD)
    except OAuthError as exc:
        raise FormRefused("form_unreadable", exc.error, locale=locale) from exc
    browser = cookies.read(request, cookies.BROWSER, ctx.settings)
    if not ctx.csrf.check(browser, purpose, form.get("csrf_token")):
        raise FormRefused("csrf_failed", "csrf", 403, locale=locale)
    return form


def first_invalid(errors: dict[str, str] | None, default: str, **fields_of: str) -> str:
    """The field to put the focus on: the first one in error (``fields_of`` maps an error
    that belongs to a group, such as "contact", to the group's first field)."""
    for field in errors or {}:
        return fields_of.get(field, field)
    return default


_CODE_SEPARATORS = re.compile(r"[\s-]")


def typed_code(value: str) -> str | None:
    """A code as people type it ("123 456", "123-456"), or None when it is not digits."""
    code = _CODE_SEPARATORS.sub("", value)
    return code if code.isascii() and code.isdigit() and 4 <= len(code) <= 10 else None


# The policy's reasons (idp.accounts.password_policy) → page texts; unknown ones pass through.
_PASSWORD_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"at least (?P<n>\d+) characters"), "pw_too_short"),
    (re.compile(r"at most (?P<n>\d+) characters"), "pw_too_long"),
    (re.compile(r"upper-case"), "pw_needs_upper"),
    (re.compile(r"lower-case"), "pw_needs_lower"),
    (re.compile(r"digit"), "pw_needs_digit"),
    (re.compile(r"too common"), "pw_common"),
    (re.compile(r"name or contacts"), "pw_personal"),
)


def password_problem_text(t: Translator, message: str) -> str:
    for pattern, key in _PASSWORD_PROBLEMS:
        found = pattern.search(message)
        if found:
            return t(key, **found.groupdict())
    return message


def password_errors(t: Translator, errors: list[dict[str, str]]) -> dict[str, str]:
    """Field errors of a refused password, translated and joined per field."""
    texts: dict[str, list[str]] = {}
    for error in errors:
        field = error.get("field", "password")
        message = error.get("message", "")
        # The registration names the fields password/password_repeat, the reset
        # new_password/new_password_repeat; the pages call them password/password_repeat.
        if field.endswith("password_repeat"):
            field, text = "password_repeat", t("err_password_mismatch")
        else:
            field, text = "password", password_problem_text(t, message)
        texts.setdefault(field, []).append(text)
    return {field: " ".join(_sentence(m) for m in messages) for field, messages in texts.items()}


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def password_rules(t: Translator, policy: str) -> list[str]:
    """The rules of the active policy, as the person should read them before typing."""
    if policy == "nist":
        rules = [t("rule_min_length", n=15), t("rule_any_characters")]
    else:
        rules = [t("rule_min_length", n=8), t("rule_composition"), t("rule_any_characters")]
    return [*rules, t("rule_not_common"), t("rule_not_personal")]
