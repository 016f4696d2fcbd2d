"""The console's "My data" page (``/account/personal-data``) over a live server, on SQLite and
PostgreSQL, as a browser without JavaScript uses it: the login it needs, the re-authentication
after an old login, the CSRF check, field errors with nothing written, a save that starts the
registry checks (run by the server's workers against the session's registry simulator), and
the progress the page shows: checks passed and the level raised, a passport reported invalid,
a foreign citizen without a SNILS."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest
from sqlalchemy import select

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import Account, RegistryCheck
from idp.web.i18n import Translator
from tests.support import registry_kit
from tests.support.browser import Browser
from tests.support.console_kit import console_login, csrf_of, post
from tests.support.factories import Person, make_person
from tests.support.form_pages import assert_invalid, field_error, input_tag
from tests.support.live import LiveServer
from tests.support.logout_kit import wait_until
from tests.support.my_data_kit import (
    INVALID_PASSPORT,
    PAGE,
    foreign_form,
    russian_form,
    stored,
    written,
)

RU = {"Accept-Language": "ru-RU"}
EN = {"Accept-Language": "en-US"}
# The registry checks run in the server's workers against the simulator without latency.
CHECKS_WITHIN = 30.0


async def level_of(ctx: Context, person: Person) -> str:
    async with ctx.db.read() as session:
        account = await session.get(Account, person.account.id)
        assert account is not None
        return account.level


async def checks_settled(ctx: Context, person: Person) -> bool:
    async with ctx.db.read() as session:
        states = (
            await session.scalars(
                select(RegistryCheck.state).where(RegistryCheck.account_id == person.account.id)
            )
        ).all()
    return bool(states) and all(s in ("succeeded", "failed", "superseded") for s in states)


def section(page: str, element_id: str) -> str:
    """The text of the element with this id (tags dropped, white space folded)."""
    found = re.search(rf'<([a-z0-9]+) id="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no #{element_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(2))).split())


# --- the way in ------------------------------------------------------------------------------


async def test_without_a_session_the_page_sends_to_login_and_back(
    browser: Browser, ctx: Context, person: Person
) -> None:
    first = await browser.get(PAGE)
    assert first.status_code == 303
    assert first.headers["location"] == f"/account/login?return={quote(PAGE, safe='')}"
    await console_login(browser, person, back=PAGE)
    page = await browser.get(PAGE, headers=RU)
    assert page.status_code == 200
    assert '<a href="/account/personal-data" aria-current="page">Мои данные</a>' in page.text
    assert await written(ctx, person.account.id) == (0, 0, 0)


async def test_a_post_without_a_session_goes_to_login_and_changes_nothing(
    browser: Browser, ctx: Context, person: Person
) -> None:
    page = await browser.get("/account/login")  # this browser's CSRF token, no session
    refused = await browser.http.post(
        PAGE, data={"csrf_token": csrf_of(page), **russian_form(person)}
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/account/login?return={quote(PAGE, safe='')}"
    assert await written(ctx, person.account.id) == (0, 0, 0)


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_the_overview_leads_to_my_data(browser: Browser, person: Person, lang: str) -> None:
    await console_login(browser, person)
    overview = await browser.get("/account", headers=RU if lang == "ru" else EN)
    link = "Заполнить личные данные" if lang == "ru" else "Fill in your personal data"
    assert f'<a href="/account/personal-data" id="my-data-link">{link}</a>' in overview.text
    page = await browser.get(PAGE, headers=RU if lang == "ru" else EN)
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    title = "Мои данные" if lang == "ru" else "My data"
    assert f"<h1>{title}</h1>" in page.text
    # Before the first save: the account's names, Russian citizenship, nothing checked yet.
    assert 'value="Петров"' in input_tag(page.text, "last_name")
    assert '<option value="RUS" selected>' in page.text
    assert "/static/my_data.js" not in page.text  # nothing open: nothing to refresh


async def test_an_old_login_sees_the_progress_but_not_the_data_until_the_password(
    browser: Browser, ctx: Context, clock: OffsetClock, person: Person
) -> None:
    await console_login(browser, person, back=PAGE)
    form = russian_form(person)
    saved = await post(browser, PAGE, PAGE, form)
    assert saved.status_code == 303
    assert (await written(ctx, person.account.id))[:2] == (1, 3)
    page = await browser.get(PAGE, headers=RU)
    assert form["document_number"] in page.text

    clock.advance(ctx.settings.console.reauth_within + 1)
    reauth = f"/account/reauth?return={quote(PAGE, safe='')}"
    stale = await browser.get(PAGE, headers=RU)
    assert stale.status_code == 200
    assert 'id="progress"' in stale.text  # the checks and the level, still
    assert f'<a href="{html.escape(reauth)}" class="button" id="unlock">' in stale.text
    assert f'action="{PAGE}"' not in stale.text  # no form, and none of the data
    for name in ("document_number", "snils", "inn", "birth_place"):
        assert form[name] not in stale.text, name
    assert "1985-04-12" not in stale.text

    changed = russian_form(person, last_name="Сидоров")
    refused = await browser.http.post(PAGE, data={"csrf_token": csrf_of(page), **changed})
    assert refused.status_code == 303
    assert refused.headers["location"] == reauth
    assert (await stored(ctx, person.account.id)).revision == 1  # type: ignore[union-attr]
    assert (await ctx_account(ctx, person)).last_name == "Петров"

    back = await post(
        browser, reauth, "/account/reauth", {"return": PAGE, "password": person.password}
    )
    assert back.status_code == 303
    assert back.headers["location"] == PAGE
    again = await browser.get(PAGE)
    assert form["document_number"] in again.text
    assert f'action="{PAGE}"' in again.text


async def test_a_post_without_the_csrf_token_changes_nothing(
    browser: Browser, ctx: Context, person: Person
) -> None:
    await console_login(browser, person, back=PAGE)
    for token in (None, "x" * 43):
        data = russian_form(person, last_name="Сидоров")
        if token:
            data["csrf_token"] = token
        refused = await browser.http.post(PAGE, data=data)
        assert refused.status_code == 403, refused.text[:300]
    assert await written(ctx, person.account.id) == (0, 0, 0)
    assert (await ctx_account(ctx, person)).last_name == "Петров"


async def ctx_account(ctx: Context, person: Person) -> Account:
    async with ctx.db.read() as session:
        account = await session.get(Account, person.account.id)
        assert account is not None
        return account


# --- field errors ------------------------------------------------------------------------------


BAD = {
    "last_name": "Petrov1",
    "sex": "other",
    "birth_date": "2999-01-01",
    "citizenship": "ru",
    "document_series": "45A6",
    "document_number": "12345",
    "document_issuer_code": "77-001",
    "snils": "123-456-789 00",
    "inn": "123456789012",
}


@pytest.mark.parametrize(
    ("lang", "texts"),
    [
        (
            "ru",
            {
                "snils": "Такого СНИЛС не бывает: проверьте цифры.",
                "document_series": "Серия паспорта РФ — 4 цифры.",
                "birth_date": "Дата рождения не может быть в будущем.",
            },
        ),
        (
            "en",
            {
                "snils": "There is no such SNILS: check the digits.",
                "document_series": "A Russian passport's series is 4 digits.",
                "birth_date": "The date of birth cannot be in the future.",
            },
        ),
    ],
)
async def test_bad_input_is_shown_beside_each_field_and_nothing_is_written(
    browser: Browser, ctx: Context, person: Person, lang: str, texts: dict[str, str]
) -> None:
    await console_login(browser, person, back=PAGE)
    browser.http.headers.update(RU if lang == "ru" else EN)
    refused = await post(browser, PAGE, PAGE, russian_form(person, **BAD))
    assert refused.status_code == 422
    page = refused.text
    for field in ("last_name", "birth_date", "document_series", "document_number"):
        assert_invalid(page, field)
    for field in ("document_issuer_code", "snils", "inn"):
        assert_invalid(page, field)
    citizenship = re.search(r'<select id="citizenship"[^>]*>', page)
    assert citizenship
    assert 'aria-invalid="true"' in citizenship.group(0)
    assert 'aria-describedby="citizenship-error"' in citizenship.group(0)
    assert field_error(page, "citizenship")
    assert 'aria-describedby="sex-error"' in input_tag(page, "sex-male")
    assert field_error(page, "sex")
    for field, text in texts.items():
        assert assert_invalid(page, field) == text
    assert 'id="sex-error"' in page
    assert 'class="error-summary"' in page
    # The values stay as typed, so the person corrects rather than retypes.
    assert 'value="Petrov1"' in input_tag(page, "last_name")
    assert 'value="123-456-789 00"' in input_tag(page, "snils")
    assert 'value="2999-01-01"' in input_tag(page, "birth_date")
    # Fields that were right are not marked.
    assert "aria-invalid" not in input_tag(page, "first_name")
    assert await written(ctx, person.account.id) == (0, 0, 0)
    assert (await ctx_account(ctx, person)).last_name == "Петров"


@pytest.mark.parametrize(
    "changes",
    [
        {"last_name": "x" * 5000},
        {"last_name": "Пет\u200bров"},
        {"birth_place": "Москва\x00"},
        {"document_kind": "driving_licence"},
        {"citizenship": "DEU"},  # a foreign citizen with a Russian passport
        {"snils": ""},  # a Russian citizen gives the SNILS
        {"inn": "7707083893"},  # an organisation's INN
        {"document_issued_on": "1990-01-01"},  # before the 14th birthday
        {"birth_place": "Моск\u3164ва"},  # a filler that counts as a letter
        {"document_issuer": "ОВД \u202eанйоар"},  # a bidi override
        {"document_issuer": "ОВД" + "\u0336" * 3},  # stacked marks
    ],
    ids=[
        "long",
        "invisible",
        "control",
        "kind",
        "citizen-document",
        "no-snils",
        "inn10",
        "early",
        "filler",
        "bidi",
        "marks",
    ],
)
async def test_each_refusal_names_its_field(
    browser: Browser, ctx: Context, person: Person, changes: dict[str, str]
) -> None:
    await console_login(browser, person, back=PAGE)
    refused = await post(browser, PAGE, PAGE, russian_form(person, **changes))
    assert refused.status_code in (400, 413, 422), refused.text[:300]
    if refused.status_code == 422:
        field = next(iter(changes))
        if field == "citizenship":
            field = "document_kind"
        if field == "document_kind":
            assert 'id="document_kind-error"' in refused.text
        else:
            assert_invalid(refused.text, field)
    assert await written(ctx, person.account.id) == (0, 0, 0)


async def test_a_snils_verified_on_another_account_is_refused_without_saying_whose(
    browser: Browser, ctx: Context, person: Person
) -> None:
    other = await make_person(ctx)
    await console_login(browser, person, back=PAGE)
    refused = await post(browser, PAGE, PAGE, russian_form(person, snils=other.snils))
    assert refused.status_code == 409
    message = assert_invalid(refused.text, "snils")
    assert "другой учётной записи" in message
    assert other.phone not in refused.text
    assert "Иван" not in message
    assert await written(ctx, person.account.id) == (0, 0, 0)


# --- saving and the progress -------------------------------------------------------------------


async def test_good_data_is_saved_the_checks_pass_and_the_level_rises(
    browser: Browser, ctx: Context, person: Person
) -> None:
    await console_login(browser, person, back=PAGE)
    form = russian_form(person, first_name="Пётр", middle_name="")
    saved = await post(browser, PAGE, PAGE, form)
    assert saved.status_code == 303, saved.text[:500]
    assert saved.headers["location"] == f"{PAGE}?done=saved"
    row = await stored(ctx, person.account.id)
    assert row is not None
    assert row.revision == 1
    assert row.document_number == form["document_number"]
    account = await ctx_account(ctx, person)
    assert (account.first_name, account.middle_name) == ("Пётр", None)

    page = await browser.get(saved.headers["location"], headers=RU)
    assert "Данные сохранены." in page.text
    assert 'value="Пётр"' in input_tag(page.text, "first_name")
    assert f'value="{form["document_number"]}"' in input_tag(page.text, "document_number")

    await wait_until(lambda: checks_settled(ctx, person), "the checks", within=CHECKS_WITHIN)
    assert await level_of(ctx, person) == "standard"
    done = await browser.get(PAGE, headers=RU)
    assert section(done.text, "level-now") == "Уровень вашей учётной записи: стандартная"
    for kind in ("person", "document", "inn"):
        assert 'data-state="succeeded"' in re.search(
            rf'<li id="check-{kind}"[^>]*>', done.text
        ).group(0)  # type: ignore[union-attr]
    assert "Все проверки пройдены" in done.text
    assert "/static/my_data.js" not in done.text
    history = section(done.text, "history")
    assert "упрощённая → стандартная" in history
    assert "проверки в реестрах пройдены" in history

    # The same data again starts nothing.
    again = await post(browser, PAGE, PAGE, form)
    assert again.status_code == 303
    assert again.headers["location"] == f"{PAGE}?done=unchanged"
    assert (await written(ctx, person.account.id))[:2] == (1, 3)


async def test_while_checks_are_open_the_page_offers_refresh_and_its_script(
    browser: Browser, ctx: Context, person: Person, registry_sim: LiveServer
) -> None:
    await registry_kit.reset(registry_sim.url)
    await registry_kit.configure(registry_sim.url, latency=3600)  # every answer stays pending
    try:
        await console_login(browser, person, back=PAGE)
        saved = await post(browser, PAGE, PAGE, russian_form(person))
        assert saved.status_code == 303
        shown = await browser.get(saved.headers["location"], headers=EN)
        policy = shown.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "connect-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert '<script src="/static/my_data.js" defer></script>' in shown.text
        assert '<a href="/account/personal-data" id="refresh-link">Refresh</a>' in shown.text
        assert re.search(
            r'<section id="progress"[^>]* aria-live="polite"[^>]*data-open="yes"', shown.text
        )
        assert await level_of(ctx, person) == "simplified"
        # The script stops after ten minutes (its fetches keep the session alive) and then
        # shows the notice kept hidden until then.
        assert re.search(r'<section id="progress"[^>]* data-stop-after="600"', shown.text)
        assert re.search(r'<p id="refresh-stopped"[^>]* hidden>', shown.text)
        script = await browser.get("/static/my_data.js")
        assert script.status_code == 200
        assert 'cache: "no-store"' in script.text
        assert 'getElementById("refresh-stopped")' in script.text
        assert 'getAttribute("data-stop-after")' in script.text
    finally:  # (a reset would forget the requests the checks wait on)
        await registry_kit.configure(registry_sim.url, latency=0)
    # Once the registries answer, the same page says so and stops refreshing.
    await wait_until(lambda: checks_settled(ctx, person), "the checks", within=CHECKS_WITHIN)
    after = await browser.get(PAGE, headers=EN)
    assert "/static/my_data.js" not in after.text
    assert 'data-open="no"' in after.text
    assert 'id="refresh-stopped"' not in after.text
    assert section(after.text, "level") == "standard"


async def test_a_passport_reported_invalid_shows_the_reason_and_the_level_stays(
    browser: Browser, ctx: Context, person: Person
) -> None:
    series, number = INVALID_PASSPORT
    await console_login(browser, person, back=PAGE)
    saved = await post(
        browser, PAGE, PAGE, russian_form(person, document_series=series, document_number=number)
    )
    assert saved.status_code == 303
    await wait_until(lambda: checks_settled(ctx, person), "the checks", within=CHECKS_WITHIN)
    assert await level_of(ctx, person) == "simplified"
    for lang, headers in (("ru", RU), ("en", EN)):
        page = await browser.get(PAGE, headers=headers)
        document = section(page.text, "check-document")
        t = Translator(lang)
        assert t.has("reason.document_invalid.title")  # checks.json, not the key itself
        assert t("reason.document_invalid.title") in document
        assert t("reason.document_invalid.advice") in document
        assert t("state.failed") in document
        assert 'data-state="succeeded"' in re.search(
            r'<li id="check-person"[^>]*>', page.text
        ).group(0)  # type: ignore[union-attr]
        assert t("my_data_some_failed") in html.unescape(page.text)


async def test_a_foreign_citizen_without_snils_is_told_why_the_level_stays(
    browser: Browser, ctx: Context, person: Person
) -> None:
    await console_login(browser, person, back=PAGE)
    saved = await post(browser, PAGE, PAGE, foreign_form())
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?done=saved_unchecked"
    assert (await written(ctx, person.account.id))[:2] == (1, 0)
    page = await browser.get(PAGE, headers=RU)
    assert "иностранный гражданин без СНИЛС" in section(page.text, "progress-summary")
    assert "/static/my_data.js" not in page.text
    assert await level_of(ctx, person) == "simplified"
    page = await browser.get(PAGE, headers=EN)
    assert "foreign citizen without a SNILS" in section(page.text, "progress-summary")
