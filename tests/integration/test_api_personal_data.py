"""``/api/v1/me/personal-data``, ``/verifications`` and ``/level-history`` on a live server, on
SQLite and PostgreSQL: the round trip, the checks a save starts (and what an identical save does
not), the level a change takes away, the SNILS of another account, a foreign citizen without a
SNILS, the recent login a change needs, and rows that hold nothing readable."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import LargeBinary, func, select, text, type_coerce, update

from idp.context import Context
from idp.db.models import (
    Account,
    AuditEvent,
    BrowserSession,
    DevMessage,
    LevelChange,
    PersonalData,
    QueuedJob,
    RegistryCheck,
    SendCounter,
)
from idp.levels.personal_data import service
from idp.levels.personal_data.service import CHANGES_KEY
from idp.levels.personal_data.validation import parse
from idp.notify.outbox import NOTIFICATION
from tests.integration.test_api_me import FirstParty, _token, first_party  # noqa: F401
from tests.support.api_kit import Api, last_message_id, messages_to
from tests.support.factories import Person, make_person, random_snils
from tests.support.live import LiveServer
from tests.support.personal_data import PATH, foreign_body, put, ru_body, written

UNKNOWN_SNILS = "50025008300"
_HEX_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


@pytest.fixture
async def api(server: LiveServer, person: Person) -> AsyncIterator[Api]:
    client = Api(server.url)
    assert (await client.login(person.phone, person.password)).status_code == 200
    yield client
    await client.close()


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert isinstance(body, dict)
    assert str(body["type"]).endswith(f"/problems/{slug}")
    return body


async def test_nothing_saved_yet_is_404(api: Api, ctx: Context, person: Person) -> None:
    _problem(await api.get(PATH), 404, "not-found")
    progress = (await api.get("/api/v1/me/verifications")).json()
    assert progress == {
        "level": "simplified",
        "confirmation_method": None,
        "revision": None,
        "checks": [],
        "none_because": None,
        "settled": True,
    }
    history = await api.get("/api/v1/me/level-history")
    assert history.status_code == 200
    assert history.json() == {"changes": []}


async def test_put_then_get_round_trip(api: Api, ctx: Context, person: Person) -> None:
    body = ru_body(snils=person.snils, document_issuer_code="770001", first_name=" Анна ")
    saved = await put(api, body)
    assert saved.status_code == 200, saved.text
    assert saved.headers["cache-control"] == "no-store"
    answer = saved.json()
    assert answer["changed"] is True
    data = answer["data"]
    assert data["revision"] == 1
    assert data["first_name"] == "Анна"
    assert data["document_series"] == "4506"
    assert data["document_issuer_code"] == "770-001"
    assert data["snils"] == person.snils
    assert data["birth_date"] == "1990-05-17"
    progress = answer["progress"]
    assert progress["revision"] == 1
    assert [c["kind"] for c in progress["checks"]] == ["person", "document", "inn"]
    assert progress["none_because"] is None

    got = await api.get(PATH)
    assert got.status_code == 200
    assert got.headers["cache-control"] == "no-store"
    assert got.json() == data
    assert (await api.get("/api/v1/me/verifications")).json()["revision"] == 1
    # The names went to the account: /me (and the claims) show them.
    me = (await api.get("/api/v1/me")).json()
    assert (me["last_name"], me["first_name"], me["middle_name"]) == (
        "Петрова",
        "Анна",
        "Сергеевна",
    )
    # The account's own verified SNILS stays: it is the same number.
    async with ctx.db.read() as session:
        account = await session.get(Account, person.account.id)
        assert account is not None
        assert account.snils_bidx is not None
    assert (await written(ctx, person.account.id))["audit"] == 1


async def test_without_an_inn_two_checks_start(api: Api, ctx: Context, person: Person) -> None:
    before = await written(ctx, person.account.id)
    saved = await put(api, ru_body(inn=None))
    assert saved.status_code == 200, saved.text
    assert [c["kind"] for c in saved.json()["progress"]["checks"]] == ["person", "document"]
    after = await written(ctx, person.account.id)
    assert after["registry_checks"] - before["registry_checks"] == 2
    assert after["jobs"] - before["jobs"] == 2


async def test_an_identical_save_starts_nothing(api: Api, ctx: Context, person: Person) -> None:
    body = ru_body()
    assert (await put(api, body)).status_code == 200
    before = await written(ctx, person.account.id, with_level_history=False)
    # The same data written another way (spaces, no hyphen) is the same data.
    again = await put(api, {**body, "document_series": "4506", "document_issuer_code": "770 001"})
    assert again.status_code == 200, again.text
    assert again.json()["changed"] is False
    assert again.json()["data"]["revision"] == 1
    assert await written(ctx, person.account.id, with_level_history=False) == before


async def test_a_change_starts_a_new_round_and_supersedes_the_open_one(
    api: Api, ctx: Context, person: Person
) -> None:
    body = ru_body()
    first = (await put(api, body)).json()
    second = await put(api, {**body, "document_number": "654321"})
    assert second.status_code == 200, second.text
    assert second.json()["data"]["revision"] == 2
    async with ctx.db.read() as session:
        old = list(
            await session.scalars(
                select(RegistryCheck).where(
                    RegistryCheck.account_id == person.account.id, RegistryCheck.revision == 1
                )
            )
        )
    assert {str(c.id) for c in old} == {c["id"] for c in first["progress"]["checks"]}
    assert all(c.state not in ("queued", "sent", "waiting") for c in old)
    assert {c["id"] for c in second.json()["progress"]["checks"]}.isdisjoint(
        {str(c.id) for c in old}
    )


@pytest.mark.parametrize("level", ["standard", "confirmed"])
async def test_a_change_drops_a_standard_or_confirmed_account_to_simplified(
    api: Api, ctx: Context, person: Person, level: str
) -> None:
    body = ru_body()
    assert (await put(api, body)).status_code == 200
    async with ctx.db.transaction() as session:
        await session.execute(
            update(Account)
            .where(Account.id == person.account.id)
            .values(level=level, confirmation_method="qes" if level == "confirmed" else None)
        )
    # Identical data keeps the level.
    same = await put(api, body)
    assert same.json()["progress"]["level"] == level
    changed = await put(api, {**body, "last_name": "Сидорова"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["revision"] == 2
    progress = changed.json()["progress"]
    assert progress["level"] == "simplified"
    assert [c["kind"] for c in progress["checks"]] == ["person", "document", "inn"]
    assert progress["confirmation_method"] is None
    # (The job runner may have raised the level meanwhile: only the drop is looked at.)
    history = (await api.get("/api/v1/me/level-history")).json()["changes"]
    dropped = [c for c in history if c["reason"] == "data_changed"]
    assert [(c["from_level"], c["to_level"]) for c in dropped] == [(level, "simplified")]
    async with ctx.db.read() as session:
        rows = list(
            await session.scalars(
                select(LevelChange).where(
                    LevelChange.account_id == person.account.id,
                    LevelChange.reason == "data_changed",
                )
            )
        )
    assert [(r.from_level, r.to_level) for r in rows] == [(level, "simplified")]


@pytest.mark.parametrize(
    "change",
    [
        {"birth_place": "г. Тверь"},
        {"document_issuer": "ГУ МВД России по г. Москве"},
        {"document_issuer_code": "770-002"},
        {"birth_place": "г. Тверь", "document_issuer_code": "770-002"},
    ],
    ids=lambda change: "+".join(change),
)
async def test_a_change_no_registry_receives_keeps_the_level_and_the_round(
    api: Api, ctx: Context, person: Person, change: dict[str, str]
) -> None:
    body = ru_body()
    first = await put(api, body)
    assert first.status_code == 200, first.text
    async with ctx.db.transaction() as session:
        await session.execute(
            update(Account).where(Account.id == person.account.id).values(level="standard")
        )
    before = await written(ctx, person.account.id)
    changes_key = f"{CHANGES_KEY}{person.account.id}"
    async with ctx.db.read() as session:
        counted = await session.scalar(
            select(SendCounter.sent).where(SendCounter.key == changes_key)
        )
    assert counted == 1

    saved = await put(api, {**body, **change})
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert answer["changed"] is True
    assert answer["data"]["revision"] == 1
    for field, value in change.items():
        assert answer["data"][field] == value
    assert answer["progress"]["level"] == "standard"
    assert answer["progress"]["revision"] == 1
    assert {c["id"] for c in answer["progress"]["checks"]} == {
        c["id"] for c in first.json()["progress"]["checks"]
    }
    assert all(c["state"] != "superseded" for c in answer["progress"]["checks"])
    # No new revision, check, job or level change; not counted against the daily cap.
    assert await written(ctx, person.account.id) == before
    async with ctx.db.read() as session:
        assert (
            await session.scalar(select(SendCounter.sent).where(SendCounter.key == changes_key))
            == 1
        )
        account = await session.get(Account, person.account.id)
        assert account is not None
        assert account.level == "standard"
        audit = list(
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.account_id == str(person.account.id),
                    AuditEvent.event == "personal_data.updated",
                )
            )
        )
    assert len(audit) == 1
    got = (await api.get(PATH)).json()
    for field, value in change.items():
        assert got[field] == value


async def test_a_foreign_citizen_without_snils_is_saved_with_no_checks(
    api: Api, ctx: Context, person: Person
) -> None:
    before = await written(ctx, person.account.id)
    saved = await put(api, foreign_body())
    assert saved.status_code == 200, saved.text
    progress = saved.json()["progress"]
    assert progress["checks"] == []
    assert progress["none_because"] == "foreign_without_snils"
    assert progress["settled"] is True
    assert (await api.get("/api/v1/me/verifications")).json() == progress
    after = await written(ctx, person.account.id)
    assert after["registry_checks"] == before["registry_checks"]
    assert after["jobs"] == before["jobs"]
    assert after["personal_data"] == 1
    # The verified SNILS it had is no longer this person's data: taken away.
    async with ctx.db.read() as session:
        account = await session.get(Account, person.account.id)
        assert account is not None
        assert (account.snils_bidx, account.snils_enc) == (None, None)


async def test_a_new_snils_takes_the_verified_one_away(
    api: Api, ctx: Context, person: Person
) -> None:
    assert (await put(api, ru_body(snils=person.snils))).status_code == 200
    # A number the registries do not know (the simulator's seed): it is never verified here.
    assert (await put(api, ru_body(snils=UNKNOWN_SNILS))).status_code == 200
    async with ctx.db.read() as session:
        account = await session.get(Account, person.account.id)
        assert account is not None
        assert (account.snils_bidx, account.snils_enc) == (None, None)
    # The old number no longer logs in.
    other = Api(str(api.http.base_url))
    try:
        assert (await other.login(person.snils, person.password)).status_code == 401
    finally:
        await other.close()


async def test_the_snils_of_another_account_is_refused_without_saying_whose(
    api: Api, ctx: Context, person: Person
) -> None:
    other = await make_person(ctx)
    before = await written(ctx, person.account.id)
    for snils in (
        other.snils,
        f"{other.snils[:3]}-{other.snils[3:6]}-{other.snils[6:9]} {other.snils[9:]}",
    ):
        refused = await put(api, ru_body(snils=snils, document_number="111111"))
        problem = _problem(refused, 409, "snils-taken")
        shown = refused.text
        for secret in (
            other.phone,
            other.email,
            other.account.sub,
            str(other.account.id),
            "Петров",
        ):
            assert secret not in shown
        assert "errors" not in problem
    assert await written(ctx, person.account.id) == before
    async with ctx.db.read() as session:
        untouched = await session.get(Account, other.account.id)
        assert untouched is not None
        assert untouched.snils_bidx is not None


async def test_a_put_needs_a_recent_login_and_the_csrf_header(
    api: Api, ctx: Context, person: Person
) -> None:
    before = await written(ctx, person.account.id)
    no_csrf = await api.http.put(PATH, json=ru_body())
    _problem(no_csrf, 403, "csrf-failed")
    async with ctx.db.transaction() as session:
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == person.account.id)
            .values(
                auth_time=ctx.clock.now()
                - timedelta(seconds=ctx.settings.console.reauth_within + 5)
            )
        )
    problem = _problem(await put(api, ru_body()), 403, "reauthentication-required")
    assert problem["max_age"] == ctx.settings.console.reauth_within
    assert await written(ctx, person.account.id) == before
    # The checks and the level history hold no personal data: they need no recent login.
    assert (await api.get("/api/v1/me/verifications")).status_code == 200
    assert (await api.get("/api/v1/me/level-history")).status_code == 200


async def test_reading_the_data_needs_a_recent_login(
    api: Api, ctx: Context, person: Person
) -> None:
    assert (await put(api, ru_body(snils=person.snils))).status_code == 200
    assert (await api.get(PATH)).status_code == 200
    await _age_logins(ctx, person, ctx.settings.console.reauth_within + 5)
    refused = await api.get(PATH)
    problem = _problem(refused, 403, "reauthentication-required")
    assert problem["max_age"] == ctx.settings.console.reauth_within
    assert "www-authenticate" not in refused.headers  # a cookie caller: no Bearer challenge
    assert person.snils not in refused.text
    assert "Петрова" not in refused.text
    assert (await api.get("/api/v1/me/verifications")).status_code == 200
    assert (await api.get("/api/v1/me/level-history")).status_code == 200
    # Logging in again shows the data again.
    assert (await api.login(person.phone, person.password)).status_code == 200
    assert (await api.get(PATH)).json()["last_name"] == "Петрова"


async def test_a_bearer_token_of_an_old_login_gets_the_step_up_challenge_for_the_data(
    first_party: FirstParty,  # noqa: F811
    ctx: Context,
    person: Person,
) -> None:
    token = await _token(first_party.server, first_party.portal, person)
    bearer = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=first_party.server.url) as http:
        saved = await http.put(PATH, json=ru_body(snils=person.snils), headers=bearer)
        assert saved.status_code == 200, saved.text
        assert (await http.get(PATH, headers=bearer)).status_code == 200
        await _age_logins(ctx, person, ctx.settings.console.reauth_within + 5)
        refused = await http.get(PATH, headers=bearer)
        problem = _problem(refused, 403, "reauthentication-required")
        assert problem["max_age"] == ctx.settings.console.reauth_within
        challenge = refused.headers["www-authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge
        assert f'max_age="{ctx.settings.console.reauth_within}"' in challenge
        assert person.snils not in refused.text
        progress = await http.get("/api/v1/me/verifications", headers=bearer)
        assert progress.status_code == 200


async def _age_logins(ctx: Context, person: Person, seconds: int) -> None:
    async with ctx.db.transaction() as session:
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.account_id == person.account.id)
            .values(auth_time=ctx.clock.now() - timedelta(seconds=seconds))
        )


@pytest.mark.parametrize(
    "path", [PATH, "/api/v1/me/verifications", "/api/v1/me/level-history"], ids=str
)
async def test_without_a_login_nothing_is_shown(server: LiveServer, path: str) -> None:
    anonymous = Api(server.url)
    try:
        _problem(await anonymous.get(path), 401, "not-authenticated")
        await anonymous.csrf()
        refused = await put(anonymous, ru_body())
        assert refused.status_code in (401, 403), refused.text
    finally:
        await anonymous.close()


async def test_one_person_never_sees_another_ones_data(
    server: LiveServer, api: Api, ctx: Context, person: Person
) -> None:
    assert (await put(api, ru_body(last_name="Первая"))).status_code == 200
    second = await make_person(ctx)
    other = Api(server.url)
    try:
        assert (await other.login(second.phone, second.password)).status_code == 200
        _problem(await other.get(PATH), 404, "not-found")
        assert (await other.get("/api/v1/me/verifications")).json()["revision"] is None
    finally:
        await other.close()


async def test_raw_rows_hold_no_plaintext(api: Api, ctx: Context, person: Person) -> None:
    snils = random_snils()
    body = ru_body(
        snils=snils,
        last_name="Журавлёва",
        first_name="Снежана",
        middle_name="Олеговна",
        birth_place="село Кукуево",
        document_issuer="Отделом УФМС по Тверской области",
        document_series="2817",
        document_number="904513",
        document_issuer_code="690-017",
        birth_date="1991-07-23",
        document_issued_on="2011-08-09",
        inn="777199679974",
    )
    assert (await put(api, body)).status_code == 200
    key = person.account.id.hex if ctx.db.dialect == "sqlite" else person.account.id
    async with ctx.db.read() as session:
        found = (
            await session.execute(
                text("SELECT * FROM personal_data WHERE account_id = :id"), {"id": key}
            )
        ).all()
        checks = (
            await session.execute(
                text("SELECT * FROM registry_checks WHERE account_id = :id"), {"id": key}
            )
        ).all()
        jobs = (
            await session.execute(
                text("SELECT ref, payload FROM jobs WHERE kind = 'registry_check'")
            )
        ).all()
    assert len(found) == 1
    assert len(checks) == 3
    # Identifiers (hex) and times are no personal data: left out, so that a digit run in them
    # cannot pass for a document number.
    values = [
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for row in [*found, *checks, *jobs]
        for v in row
        if not isinstance(v, uuid.UUID | datetime | int)
    ]
    dump = "\n".join(_HEX_ID.sub("", v.decode("latin-1")) for v in values)
    dump_utf8 = "\n".join(_HEX_ID.sub("", v.decode("utf-8", "replace")) for v in values)
    for value in (
        snils,
        f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}",
        "Журавлёва",
        "Снежана",
        "Олеговна",
        "Кукуево",
        "Тверской",
        "2817",
        "904513",
        "690-017",
        "1991-07-23",
        "2011-08-09",
        "777199679974",
        "female",
        "RUS",
        "ru_passport",
    ):
        assert value not in dump, value
        assert value not in dump_utf8, value


async def test_sealed_choices_have_one_length_whatever_they_hold(
    ctx: Context, person: Person
) -> None:
    """Sex and the document's kind are sealed as fixed-length codes: the ciphertext's length
    does not tell ``male`` from ``female`` or a Russian passport from a foreign one."""
    other = await make_person(ctx)
    now = ctx.clock.now()
    saves = {
        person.account.id: ru_body(snils=person.snils, sex="male"),
        other.account.id: foreign_body(sex="female"),
    }
    async with ctx.db.transaction() as session:
        for account_id, body in saves.items():
            await service.save(session, ctx, account_id, parse(body, today=now.date()), at=now)
    table = PersonalData.__table__
    raw = select(
        table.c.account_id,
        type_coerce(table.c.sex_sealed, LargeBinary),
        type_coerce(table.c.document_kind_sealed, LargeBinary),
    ).where(table.c.account_id.in_(list(saves)))
    async with ctx.db.read() as session:
        rows = {row[0]: (bytes(row[1]), bytes(row[2])) for row in await session.execute(raw)}
        loaded = {account_id: await service.load(session, account_id) for account_id in saves}
    mine, theirs = rows[person.account.id], rows[other.account.id]
    assert len(mine[0]) == len(theirs[0])  # male, female
    assert len(mine[1]) == len(theirs[1])  # ru_passport, foreign_passport
    assert ctx.vault.open_column("personal_data.sex", mine[0]) == "M"
    assert ctx.vault.open_column("personal_data.document_kind", theirs[1]) == "FP"
    # Everything above the column still sees the values.
    mine_view, theirs_view = loaded[person.account.id], loaded[other.account.id]
    assert mine_view is not None
    assert theirs_view is not None
    assert (mine_view.data.sex, mine_view.data.document_kind) == ("male", "ru_passport")
    assert (theirs_view.data.sex, theirs_view.data.document_kind) == (
        "female",
        "foreign_passport",
    )


NOTICE_REFS = ("sms:personal_data_changed", "email:personal_data_changed")


async def _notices_queued(ctx: Context) -> int:
    async with ctx.db.read() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(QueuedJob)
            .where(QueuedJob.kind == NOTIFICATION, QueuedJob.ref.in_(NOTICE_REFS))
        )
    return int(found or 0)


async def _notice_to(ctx: Context, to: str, after: int, subject: str) -> DevMessage:
    deadline = time.monotonic() + 10
    while True:
        for message in await messages_to(ctx, to, after):
            if message.subject == subject:
                return message
        assert time.monotonic() < deadline, f"no notice to {to}"
        await asyncio.sleep(0.05)


async def test_a_change_tells_every_confirmed_contact_and_an_identical_save_tells_none(
    api: Api, ctx: Context, person: Person
) -> None:
    mark = await last_message_id(ctx)
    queued = await _notices_queued(ctx)
    body = ru_body(snils=person.snils)
    assert (await put(api, body)).status_code == 200
    assert await _notices_queued(ctx) == queued + 2  # the phone and the e-mail address
    for to in (person.phone, person.email):
        notice = await _notice_to(ctx, to, mark, "Ваши данные изменены")
        assert "Если это были не вы" in notice.body
        for secret in (person.snils, "Петрова", "Анна", "123456", "1990", "Москва"):
            assert secret not in notice.body

    # An identical save, and a change no registry receives, start no round: no notice.
    assert (await put(api, body)).json()["changed"] is False
    assert (await put(api, {**body, "birth_place": "г. Тверь"})).json()["changed"] is True
    assert await _notices_queued(ctx) == queued + 2

    # A name change starts a round: told again, in the caller's language.
    mark = await last_message_id(ctx)
    api.http.headers["Accept-Language"] = "en"
    assert (await put(api, {**body, "last_name": "Сидорова"})).status_code == 200
    assert await _notices_queued(ctx) == queued + 4
    english = await _notice_to(ctx, person.email, mark, "Your personal data was changed")
    assert "If it was not you" in english.body
    assert "Сидорова" not in english.body
