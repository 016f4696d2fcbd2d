"""The trust list on SQLite and PostgreSQL: idempotent imports, withdrawal, the per-instance
store following other instances' changes, the scheduled refresh running once among racing
workers, a failing source keeping its list, and the ``idp trust`` commands."""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.engine import Database
from idp.db.models import AuditEvent, QueuedJob, TrustAnchor
from idp.errors import BadInput
from idp.jobs.dbtime import db_now
from idp.jobs.registry import Registry
from idp.jobs.runner import JobRunner
from idp.settings import Settings, SignaturesSettings
from idp.signatures.trust import repository, schedule
from idp.signatures.trust.formats import fingerprint
from idp.signatures.trust.service import (
    TooManyUnlisted,
    UnknownAnchor,
    block_anchor,
    import_source,
    list_anchors,
    source_name,
)
from idp.signatures.trust.store import TrustStore
from idp.signatures.trust.xmlsafe import UnreadableSource
from tests.conftest import TEST_KEK
from tests.support.cli_kit import run_in_process
from tests.support.live import LiveServer, free_port
from tests.support.logout_kit import create_scratch_database, drop_scratch_database
from tests.unit.signatures.test_trust_formats import (
    GRANTED,
    WITHDRAWN,
    make_certificate,
    make_ru_list,
    make_tsl,
    pem,
    ru_ca,
    tsl_service,
)


@pytest.fixture
async def trust_ctx(
    settings: Settings, clock: OffsetClock, migrated: str
) -> AsyncIterator[Context]:
    context = Context.build(settings, clock)
    yield context
    await context.close()


async def _anchor(ctx: Context, fp: str) -> TrustAnchor | None:
    async with ctx.db.read() as session:
        return (
            await session.scalars(select(TrustAnchor).where(TrustAnchor.fingerprint == fp))
        ).first()


async def _events(ctx: Context, event: str, source: str) -> list[AuditEvent]:
    async with ctx.db.read() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.event == event))
        return [row for row in rows if row.details.get("source") == source]


async def test_an_import_is_idempotent_and_withdraws_what_its_source_no_longer_lists(
    trust_ctx: Context, tmp_path: Path
) -> None:
    ders = [make_certificate(f"Idempotent CA {i}") for i in range(3)]
    for i, der in enumerate(ders):
        (tmp_path / f"{i}.pem").write_bytes(pem(der))
    (tmp_path / "leaf.pem").write_bytes(pem(make_certificate("Leaf", ca=False)))
    now = trust_ctx.clock.now()
    async with trust_ctx.db.transaction() as session:
        first = await import_source(session, str(tmp_path), now=now)
    assert (first.added, first.updated, first.withdrawn, len(first.refused)) == (3, 0, 0, 1)
    assert first.refused[0].reason == "not a CA certificate (basicConstraints cA is false)"
    async with trust_ctx.db.transaction() as session:
        again = await import_source(session, str(tmp_path), now=now)
    assert (again.added, again.updated, again.unchanged, again.withdrawn) == (0, 0, 3, 0)

    (tmp_path / "1.pem").rename(tmp_path / "1.pem.off")
    (tmp_path / "2.pem").unlink()  # two of three: more than one and 10 %, only when forced
    with pytest.raises(TooManyUnlisted, match="no longer names 2 of the 3 CAs"):
        async with trust_ctx.db.transaction() as session:
            await import_source(session, str(tmp_path), now=now)
    kept = await _anchor(trust_ctx, fingerprint(ders[2]))
    assert kept is not None
    assert kept.withdrawn_at is None
    (tmp_path / "1.pem.off").rename(tmp_path / "1.pem")  # one of three may go unforced
    async with trust_ctx.db.transaction() as session:
        third = await import_source(session, str(tmp_path), now=now)
    assert (third.added, third.unchanged, third.withdrawn) == (0, 2, 1)
    gone = await _anchor(trust_ctx, fingerprint(ders[2]))
    assert gone is not None
    assert gone.withdrawn_at is not None
    async with trust_ctx.db.read() as session:
        trusted = {a.fingerprint for a in await list_anchors(session)}
        every = {a.fingerprint for a in await list_anchors(session, include_withdrawn=True)}
    assert fingerprint(ders[2]) not in trusted
    assert fingerprint(ders[2]) in every
    assert fingerprint(ders[0]) in trusted
    source = source_name(str(tmp_path))
    assert len(await _events(trust_ctx, "trust.imported", source)) == 3
    assert len(await _events(trust_ctx, "trust.withdrawn", source)) == 1

    (tmp_path / "2.pem").write_bytes(pem(ders[2]))  # listed again: trusted again
    async with trust_ctx.db.transaction() as session:
        fourth = await import_source(session, str(tmp_path), now=now)
    assert fourth.updated == 1
    back = await _anchor(trust_ctx, fingerprint(ders[2]))
    assert back is not None
    assert back.withdrawn_at is None


async def test_an_unreadable_source_writes_nothing(trust_ctx: Context, tmp_path: Path) -> None:
    (tmp_path / "list.xml").write_bytes(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    async with trust_ctx.db.read() as session:
        before = await session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(UnreadableSource):
        async with trust_ctx.db.transaction() as session:
            await import_source(session, str(tmp_path / "list.xml"), now=trust_ctx.clock.now())
    async with trust_ctx.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == before


async def test_another_instance_sees_an_import_after_its_recheck(
    trust_ctx: Context, settings: Settings, clock: OffsetClock, tmp_path: Path
) -> None:
    other = Context.build(settings, clock)  # another instance: its own engine and store
    store = TrustStore(other.db, clock, recheck=0.3)
    try:
        before = await store.anchors()
        der = make_certificate("Seen Elsewhere CA")
        (tmp_path / "ca.pem").write_bytes(pem(der))
        async with trust_ctx.db.transaction() as session:
            await import_source(session, str(tmp_path), now=clock.now())
        assert await store.anchors() == before  # within the recheck: the copy it has
        await asyncio.sleep(0.35)
        reloads = store.reloads
        seen = await asyncio.gather(*(store.anchors() for _ in range(20)))
        assert store.reloads == reloads + 1  # twenty callers, one reload
        assert fingerprint(der) in {a.fingerprint for a in seen[0]}
        assert all(s is seen[0] for s in seen)
        await asyncio.sleep(0.35)
        await store.anchors()
        assert store.reloads == reloads + 1  # the generation did not move: no list read
    finally:
        await other.close()


class ListServer:
    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.hits = 0

    async def __call__(self, request: Request) -> Response:
        self.hits += 1
        return Response(self.body, status_code=self.status)


@pytest.fixture(scope="module")
def list_server() -> Iterator[tuple[ListServer, str]]:
    state = ListServer()

    async def endpoint(request: Request) -> Response:
        return await state(request)

    live = LiveServer(Starlette(routes=[Route("/tsl.xml", endpoint)]), free_port()).start()
    yield state, f"{live.url}/tsl.xml"
    live.stop()


async def test_the_refresh_runs_once_when_workers_race_and_a_failing_source_keeps_its_list(
    settings: Settings, clock: OffsetClock, migrated: str, list_server: tuple[ListServer, str]
) -> None:
    state, url = list_server
    der = make_certificate(f"Scheduled CA {uuid.uuid4().hex[:6]}")
    state.body, state.status, state.hits = make_ru_list(ru_ca("УЦ по расписанию", [der])), 200, 0
    configured = settings.model_copy(
        update={"signatures": SignaturesSettings(trust_sources=[url], trust_refresh_every=3600)}
    )
    instances = [Context.build(configured, clock) for _ in range(2)]
    runners = []
    for ctx in instances:
        registry = Registry()
        schedule.register(registry, ctx)
        runners.append(JobRunner(ctx.db, ctx.keyring, registry))
    try:
        async with instances[0].db.transaction() as session:
            await session.execute(delete(QueuedJob).where(QueuedJob.id == schedule.JOB_ID))
        created = await asyncio.gather(
            *(schedule.ensure_scheduled(instances[i % 2]) for i in range(20))
        )
        assert created.count(True) == 1
        started = await asyncio.gather(*(runners[i % 2].run_due(schedule.KIND) for i in range(20)))
        assert sum(started) == 1
        assert state.hits == 1
        anchor = await _anchor(instances[0], fingerprint(der))
        assert anchor is not None
        assert anchor.withdrawn_at is None
        assert anchor.source == url
        async with instances[0].db.read() as session:
            job = await session.get(QueuedJob, schedule.JOB_ID)
        assert job is not None
        assert job.status == "pending"

        state.status = 500  # the source fails: the anchors it gave stay
        handler = schedule.RefreshHandler(instances[1])
        assert await handler.refresh(url) is False
        anchor = await _anchor(instances[0], fingerprint(der))
        assert anchor is not None
        assert anchor.withdrawn_at is None
        failures = await _events(instances[0], "trust.refresh_failed", url)
        assert failures
        assert "HTTP 500" in failures[-1].details["error"]
    finally:
        for runner in runners:
            await runner.stop()
        for ctx in instances:
            await ctx.close()


def _env(settings: Settings) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        IDP_DATABASE_URL=settings.database_url,
        IDP_VAR_DIR=str(settings.var_dir),
        IDP_KEY_ENCRYPTION_KEY=TEST_KEK,
    )
    return env


async def test_the_trust_commands(settings: Settings, migrated: str, tmp_path: Path) -> None:
    env = _env(settings)
    der = make_certificate("CLI CA")
    (tmp_path / "ca.der").write_bytes(der)
    (tmp_path / "second.pem").write_bytes(pem(make_certificate("CLI CA b")))
    (tmp_path / "leaf.pem").write_bytes(pem(make_certificate("Leaf", ca=False)))
    report = (await run_in_process(env, "trust", "import", str(tmp_path), "--json")).json()
    assert (report["kind"], report["added"], report["withdrawn"]) == ("certificates", 2, 0)
    assert report["refused"][0]["reason"].startswith("not a CA certificate")
    listed = (await run_in_process(env, "trust", "list", "--json")).json()["anchors"]
    mine = [a for a in listed if a["fingerprint"] == fingerprint(der)]
    assert mine
    assert mine[0]["name"] == "CLI CA"
    assert mine[0]["withdrawn"] is False
    assert mine[0]["subject"] == "O=Test CA Ltd,CN=CLI CA"
    table = (await run_in_process(env, "trust", "import", str(tmp_path))).table()
    assert "unchanged:" in table
    assert "not a CA certificate" in table

    (tmp_path / "ca.der").unlink()
    (tmp_path / "second.pem").unlink()
    other_der = make_certificate("CLI CA 2")
    (tmp_path / "other.pem").write_bytes(pem(other_der))
    line = (await run_in_process(env, "trust", "import", str(tmp_path))).refused()
    assert line.startswith("idp: the list no longer names 2 of the 2 CAs its source gives now")
    forced = await run_in_process(env, "trust", "import", str(tmp_path), "--force", "--json")
    assert forced.json()["withdrawn"] == 2
    active = (await run_in_process(env, "trust", "list", "--json")).json()["anchors"]
    every = (await run_in_process(env, "trust", "list", "--all", "--json")).json()["anchors"]
    assert fingerprint(der) not in {a["fingerprint"] for a in active}
    assert fingerprint(der) in {a["fingerprint"] for a in every}

    other = fingerprint(other_der)
    assert other in {a["fingerprint"] for a in active}
    blocked = (await run_in_process(env, "trust", "block", other, "--json")).json()
    assert (blocked["fingerprint"], blocked["already_blocked"]) == (other, False)
    every = (await run_in_process(env, "trust", "list", "--all", "--json")).json()["anchors"]
    assert [a["blocked"] for a in every if a["fingerprint"] == other] == [True]
    assert other not in {
        a["fingerprint"]
        for a in (await run_in_process(env, "trust", "list", "--json")).json()["anchors"]
    }
    assert "BLOCKED" in (await run_in_process(env, "trust", "list", "--all")).table()
    line = (await run_in_process(env, "trust", "block", "ab" * 32)).refused()
    assert line == "idp: no CA in the trust list has that fingerprint"

    (tmp_path / "bomb.xml").write_bytes(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    line = (await run_in_process(env, "trust", "import", str(tmp_path / "bomb.xml"))).refused()
    assert line == "idp: XML with a DOCTYPE or entities is refused"
    line = (await run_in_process(env, "trust", "import", str(tmp_path / "nope"))).refused()
    assert line.startswith("idp: ")
    assert "No such file" in line
    (tmp_path / "empty.xml").write_bytes(make_ru_list())
    line = (await run_in_process(env, "trust", "import", str(tmp_path / "empty.xml"))).refused()
    assert line == "idp: the list names no CA certificate; nothing was imported"
    line = (await run_in_process(env, "trust", "import", "https://ßß--.example/x")).refused()
    assert line == "idp: ßß--.example: not a valid host name"


@pytest.mark.parametrize("kind", ["empty list", "no CA in it"])
async def test_a_list_that_names_no_ca_is_refused_and_writes_nothing(
    trust_ctx: Context, tmp_path: Path, kind: str
) -> None:
    if kind == "empty list":
        (tmp_path / "list.xml").write_bytes(make_ru_list())
        source = tmp_path / "list.xml"
    else:
        (tmp_path / "leaf.pem").write_bytes(pem(make_certificate("Leaf", ca=False)))
        source = tmp_path
    async with trust_ctx.db.read() as session:
        before = await session.scalar(select(func.count()).select_from(AuditEvent))
        generation = await repository.generation(session)
    with pytest.raises(UnreadableSource, match=r"^the list names no CA certificate"):
        async with trust_ctx.db.transaction() as session:
            await import_source(session, str(source), now=trust_ctx.clock.now())
    async with trust_ctx.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == before
        assert await repository.generation(session) == generation


async def test_a_truncated_list_fails_the_scheduled_refresh_and_keeps_the_old_one(
    trust_ctx: Context, list_server: tuple[ListServer, str]
) -> None:
    state, url = list_server
    source = f"{url}?truncated={uuid.uuid4().hex}"  # a source of its own in the shared database
    ders = [make_certificate(f"Truncated CA {i}") for i in range(10)]
    state.status = 200
    state.body = make_ru_list(ru_ca("УЦ", ders))
    handler = schedule.RefreshHandler(trust_ctx)
    assert await handler.refresh(source) is True

    state.body = make_ru_list(ru_ca("УЦ", ders[:8]))  # two of ten gone: more than 10 %
    assert await handler.refresh(source) is False
    failures = await _events(trust_ctx, "trust.refresh_failed", source)
    assert "no longer names 2 of the 10 CAs" in failures[-1].details["error"]
    for der in ders:
        anchor = await _anchor(trust_ctx, fingerprint(der))
        assert anchor is not None
        assert anchor.withdrawn_at is None

    state.body = make_ru_list(ru_ca("УЦ", ders[:9]))  # one of ten: the list may drop it
    assert await handler.refresh(source) is True
    dropped = await _anchor(trust_ctx, fingerprint(ders[9]))
    assert dropped is not None
    assert dropped.withdrawn_at is not None


async def test_an_anchor_belongs_to_the_source_that_listed_it_first(
    trust_ctx: Context, tmp_path: Path
) -> None:
    ders = [make_certificate(f"Owned CA {i}") for i in range(10)]
    since = "2020-06-01T00:00:00Z"
    tsl = tmp_path / "tsl.xml"
    tsl.write_bytes(
        make_tsl(*(tsl_service(d, f"Owned CA {i}", GRANTED, since) for i, d in enumerate(ders)))
    )
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "shared.pem").write_bytes(pem(ders[0]))
    (directory / "own.pem").write_bytes(pem(make_certificate("Directory CA")))
    now = trust_ctx.clock.now()
    async with trust_ctx.db.transaction() as session:
        await import_source(session, str(tsl), now=now)
    async with trust_ctx.db.transaction() as session:
        other = await import_source(session, str(directory), now=now)
    assert (other.added, other.updated, other.unchanged) == (1, 0, 1)
    assert [(k.label, k.reason) for k in other.kept] == [
        (fingerprint(ders[0]), "listed by another source")
    ]
    shared = await _anchor(trust_ctx, fingerprint(ders[0]))
    assert shared is not None
    assert shared.source == source_name(str(tsl))  # not moved
    assert shared.source_kind == "etsi-tsl"
    assert shared.accredited_from is not None  # not widened to the directory's open window

    tsl.write_bytes(
        make_tsl(
            *(tsl_service(d, f"Owned CA {i}", GRANTED, since) for i, d in enumerate(ders[1:], 1))
        )
    )
    async with trust_ctx.db.transaction() as session:
        dropped = await import_source(session, str(tsl), now=now)
    assert dropped.withdrawn == 1
    async with trust_ctx.db.transaction() as session:
        again = await import_source(session, str(directory), now=now)
    assert (again.updated, again.unchanged, again.withdrawn) == (0, 2, 0)
    assert again.as_dict()["kept"] == [
        {"entry": fingerprint(ders[0]), "reason": "listed by another source"}
    ]
    gone = await _anchor(trust_ctx, fingerprint(ders[0]))
    assert gone is not None
    assert gone.withdrawn_at is not None  # its own list withdrew it; the other does not revive it


async def test_any_list_may_withdraw_an_anchor_and_only_that_list_trusts_it_again(
    trust_ctx: Context, tmp_path: Path
) -> None:
    ders = [make_certificate(f"Withdrawn elsewhere CA {i}") for i in range(2)]
    directory = tmp_path / "certs"
    directory.mkdir()
    for i, der in enumerate(ders):
        (directory / f"{i}.pem").write_bytes(pem(der))
    now = trust_ctx.clock.now()
    async with trust_ctx.db.transaction() as session:
        await import_source(session, str(directory), now=now)  # an operator's import owns both
    tsl = tmp_path / "tsl.xml"

    def official(status: str) -> bytes:
        return make_tsl(
            tsl_service(ders[0], "Withdrawn elsewhere CA 0", GRANTED, "2021-03-01T00:00:00Z"),
            tsl_service(ders[1], "Withdrawn elsewhere CA 1", status, "2022-01-01T00:00:00Z"),
        )

    tsl.write_bytes(official(WITHDRAWN))
    async with trust_ctx.db.transaction() as session:
        report = await import_source(session, str(tsl), now=now)
    assert (report.updated, report.withdrawn) == (0, 1)
    kept = await _anchor(trust_ctx, fingerprint(ders[0]))
    assert kept is not None
    assert kept.source == source_name(str(directory))  # still the directory's
    assert kept.accredited_from is None  # another list does not change its window
    assert kept.withdrawn_at is None
    gone = await _anchor(trust_ctx, fingerprint(ders[1]))
    assert gone is not None
    assert gone.withdrawn_at is not None  # the official list withdrew it

    async with trust_ctx.db.transaction() as session:
        again = await import_source(session, str(directory), now=now)
    assert (again.updated, again.withdrawn) == (0, 0)
    still = await _anchor(trust_ctx, fingerprint(ders[1]))
    assert still is not None
    assert still.withdrawn_at is not None  # its owner lists it, but another list withdrew it

    tsl.write_bytes(official(GRANTED))  # the list that withdrew it grants it again
    async with trust_ctx.db.transaction() as session:
        regranted = await import_source(session, str(tsl), now=now)
    assert regranted.updated == 1
    back = await _anchor(trust_ctx, fingerprint(ders[1]))
    assert back is not None
    assert back.withdrawn_at is None


async def test_a_small_list_may_drop_one_ca_without_force(
    trust_ctx: Context, tmp_path: Path
) -> None:
    ders = [make_certificate(f"Small list CA {i}") for i in range(3)]
    for i, der in enumerate(ders):
        (tmp_path / f"{i}.pem").write_bytes(pem(der))
    now = trust_ctx.clock.now()
    async with trust_ctx.db.transaction() as session:
        await import_source(session, str(tmp_path), now=now)
    (tmp_path / "2.pem").unlink()
    async with trust_ctx.db.transaction() as session:
        dropped = await import_source(session, str(tmp_path), now=now)
    assert dropped.withdrawn == 1
    (tmp_path / "0.pem").unlink()
    (tmp_path / "1.pem").unlink()
    (tmp_path / "3.pem").write_bytes(pem(make_certificate("Small list CA 3")))
    with pytest.raises(TooManyUnlisted):  # both it still has: more than one
        async with trust_ctx.db.transaction() as session:
            await import_source(session, str(tmp_path), now=now)


async def test_a_blocked_ca_stays_withdrawn_whatever_lists_it(
    trust_ctx: Context, tmp_path: Path
) -> None:
    ders = [make_certificate(f"Blockable CA {i}") for i in range(2)]
    for i, der in enumerate(ders):
        (tmp_path / f"{i}.pem").write_bytes(pem(der))
    now = trust_ctx.clock.now()
    async with trust_ctx.db.transaction() as session:
        await import_source(session, str(tmp_path), now=now)
    store = TrustStore(trust_ctx.db, trust_ctx.clock, recheck=30)
    assert fingerprint(ders[0]) in {a.fingerprint for a in await store.anchors()}
    async with trust_ctx.db.read() as session:
        generation = await repository.generation(session)

    typed = ":".join(fingerprint(ders[0]).upper()[i : i + 2] for i in range(0, 64, 2))
    async with trust_ctx.db.transaction() as session:
        report = await block_anchor(session, typed, now=now)
    assert (report.fingerprint, report.already_blocked) == (fingerprint(ders[0]), False)
    blocked = await _anchor(trust_ctx, fingerprint(ders[0]))
    assert blocked is not None
    assert blocked.blocked_at is not None
    assert blocked.withdrawn_at is not None
    async with trust_ctx.db.read() as session:
        assert await repository.generation(session) > generation
    store.invalidate()
    assert fingerprint(ders[0]) not in {a.fingerprint for a in await store.anchors()}
    events = await _events(trust_ctx, "trust.blocked", source_name(str(tmp_path)))
    assert [e.details["fingerprint"] for e in events] == [fingerprint(ders[0])]

    async with trust_ctx.db.transaction() as session:  # its list still names it
        again = await import_source(session, str(tmp_path), now=now)
    assert (again.updated, again.unchanged) == (0, 2)
    assert [(k.label, k.reason) for k in again.kept] == [(fingerprint(ders[0]), "blocked")]
    still = await _anchor(trust_ctx, fingerprint(ders[0]))
    assert still is not None
    assert (still.withdrawn_at, still.blocked_at) == (blocked.withdrawn_at, blocked.blocked_at)

    async with trust_ctx.db.transaction() as session:
        twice = await block_anchor(session, fingerprint(ders[0]), now=now)
    assert twice.already_blocked is True
    assert len(await _events(trust_ctx, "trust.blocked", source_name(str(tmp_path)))) == 1
    with pytest.raises(UnknownAnchor):
        async with trust_ctx.db.transaction() as session:
            await block_anchor(session, "ab" * 32, now=now)
    with pytest.raises(BadInput, match="not a SHA-256 fingerprint"):
        async with trust_ctx.db.transaction() as session:
            await block_anchor(session, "CLI CA", now=now)


async def test_the_store_serves_its_copy_while_the_database_is_unreachable(
    settings: Settings,
    clock: OffsetClock,
    migrated: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory = tmp_path / "scratch"
    directory.mkdir()
    url = await create_scratch_database(settings.database_url, directory)
    db = Database(url)
    try:
        der = make_certificate("Outage CA")
        (tmp_path / "ca.pem").write_bytes(pem(der))
        async with db.transaction() as session:
            await import_source(session, str(tmp_path / "ca.pem"), now=clock.now())
        # A retry_after long beside a loaded machine's stalls, so "not tried again" is not a race.
        store = TrustStore(db, clock, recheck=0.05, retry_after=2.0)
        loaded = await store.anchors()
        assert [a.fingerprint for a in loaded] == [fingerprint(der)]

        await db.dispose()  # the database goes away: dropped, its files and directory gone
        await drop_scratch_database(url)
        shutil.rmtree(directory)
        await asyncio.sleep(0.06)
        with caplog.at_level(logging.WARNING, logger="idp.signatures.trust"):
            served = await asyncio.gather(*(store.anchors() for _ in range(10)))
            assert all(s is loaded for s in served)
            assert store.failed_checks == 1  # one check for ten callers, then the backoff
            await asyncio.sleep(0.1)
            assert await store.anchors() is loaded
            assert store.failed_checks == 1  # within retry_after: not tried again
            await asyncio.sleep(2.0)
            assert await store.anchors() is loaded
            assert store.failed_checks == 2  # tried again after retry_after
        warnings = [r for r in caplog.records if r.name == "idp.signatures.trust"]
        assert len(warnings) == 1
        assert "serving the copy" in warnings[0].getMessage()

        empty = TrustStore(db, clock, recheck=0.05)  # no copy to serve: the failure is raised
        with pytest.raises(DBAPIError):
            await empty.anchors()
    finally:
        await db.dispose()
        await drop_scratch_database(url)


async def _due_in(ctx: Context) -> float:
    """Seconds until the refresh job is due, by the database's clock."""
    async with ctx.db.read() as session:
        job = await session.get(QueuedJob, schedule.JOB_ID)
        assert job is not None
        assert job.status == "pending"
        return (job.next_attempt_at - await db_now(session)).total_seconds()


async def test_a_failed_refresh_comes_back_sooner_and_a_shorter_interval_takes_effect(
    settings: Settings, clock: OffsetClock, migrated: str, list_server: tuple[ListServer, str]
) -> None:
    state, url = list_server
    source = f"{url}?schedule={uuid.uuid4().hex}"
    daily, hourly = (
        Context.build(
            settings.model_copy(
                update={
                    "signatures": SignaturesSettings(
                        trust_sources=[source], trust_refresh_every=every
                    )
                }
            ),
            clock,
        )
        for every in (86400, 3600)
    )
    registry = Registry()
    schedule.register(registry, daily)
    runner = JobRunner(daily.db, daily.keyring, registry)
    try:
        async with daily.db.transaction() as session:
            await session.execute(delete(QueuedJob).where(QueuedJob.id == schedule.JOB_ID))
        assert await schedule.ensure_scheduled(daily) is True
        state.status = 500
        assert await runner.run_due(schedule.KIND) == 1
        assert 880 < await _due_in(daily) <= 900  # not a day: the failed source comes back soon

        state.status, state.body = 200, make_ru_list(ru_ca("УЦ", [make_certificate("Daily")]))
        async with daily.db.transaction() as session:
            await session.execute(
                update(QueuedJob)
                .where(QueuedJob.id == schedule.JOB_ID)
                .values(next_attempt_at=await db_now(session))
            )
        assert await runner.run_due(schedule.KIND) == 1
        assert await _due_in(daily) > 86000  # every source refreshed: the full interval

        assert await schedule.ensure_scheduled(daily) is False  # same interval: left alone
        assert await schedule.ensure_scheduled(hourly) is True  # the interval became shorter
        assert await _due_in(hourly) <= 0
        assert await schedule.ensure_scheduled(hourly) is False
    finally:
        await runner.stop()
        for ctx in (daily, hourly):
            await ctx.close()
