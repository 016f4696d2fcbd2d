"""Housekeeping (issue 8, item 20): grants, refresh tokens and browser sessions are deleted a
retention after they ended, in bounded batches; live ones stay; a refresh token of a purged
grant is still refused; the sweep and the purge have the indexes they need."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from idp.clock import OffsetClock
from idp.context import Context
from idp.db.models import BrowserSession, Grant, RefreshToken
from idp.jobs.housekeeping import purge_expired
from idp.jobs.maintenance import Maintenance
from idp.security.tokens import digest, new_token
from tests.support.browser import Browser
from tests.support.factories import RP, Person
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def _session(person: Person, now: datetime, *, ended: datetime | None, expires: datetime) -> Any:
    return BrowserSession(
        id=uuid.uuid4(),
        token_hash=new_token(24),
        sid=new_token(24),
        account_id=person.account.id,
        auth_time=now - 2 * DAY,
        amr=["pwd"],
        acr="simplified",
        created_at=now - 3 * DAY,
        last_seen_at=min(expires, now),
        expires_at=expires,
        ended_at=ended,
        ended_reason="logout" if ended else None,
    )


def _grant(person: Person, rp: RP, *, created: datetime, revoked: datetime | None) -> Grant:
    return Grant(
        id=uuid.uuid4(),
        client_id=rp.client_id,
        account_id=person.account.id,
        session_id=None,
        scope="openid",
        created_at=created,
        revoked_at=revoked,
        revoked_reason="logout" if revoked else None,
    )


def _token(grant: Grant, *, created: datetime, absolute: datetime, rotated: bool) -> RefreshToken:
    return RefreshToken(
        token_hash=new_token(24),
        grant_id=grant.id,
        scope="openid",
        auth_time=created,
        acr="simplified",
        amr=["pwd"],
        sid=None,
        created_at=created,
        expires_at=min(absolute, created + 7 * DAY),
        absolute_expires_at=absolute,
        rotated_at=created + HOUR if rotated else None,
    )


async def _exists(ctx: Context, model: Any, key: Any) -> bool:
    async with ctx.db.read() as session:
        return await session.get(model, key) is not None


async def test_rows_past_their_end_and_the_retention_go_and_live_ones_stay(
    ctx: Context, person: Person, rp: RP
) -> None:
    now = ctx.clock.now()
    retention = timedelta(seconds=ctx.settings.housekeeping.retention)
    gone: list[tuple[Any, Any]] = []
    kept: list[tuple[Any, Any]] = []
    async with ctx.db.transaction() as session:
        for ended, expect in ((now - retention - HOUR, gone), (now - HOUR, kept)):
            row = _session(person, now, ended=ended, expires=now + DAY)
            session.add(row)
            expect.append((BrowserSession, row.id))
        # Ran out but not ended: the sweep ends it (with the logout fan-out), never the purge.
        unended = _session(person, now, ended=None, expires=now - 3 * DAY)
        live = _session(person, now, ended=None, expires=now + DAY)
        session.add_all([unended, live])
        kept += [(BrowserSession, unended.id), (BrowserSession, live.id)]

        revoked_long_ago = _grant(person, rp, created=now - 40 * DAY, revoked=now - 2 * DAY)
        revoked_lately = _grant(person, rp, created=now - 40 * DAY, revoked=now - HOUR)
        chain_ended = _grant(person, rp, created=now - 40 * DAY, revoked=None)
        chain_live = _grant(person, rp, created=now - 20 * DAY, revoked=None)
        no_tokens_old = _grant(person, rp, created=now - 2 * DAY, revoked=None)
        no_tokens_new = _grant(person, rp, created=now - HOUR, revoked=None)
        session.add_all(
            [
                revoked_long_ago,
                revoked_lately,
                chain_ended,
                chain_live,
                no_tokens_old,
                no_tokens_new,
            ]
        )
        await session.flush()
        tokens: dict[str, list[RefreshToken]] = {}
        for name, grant, absolute in (
            ("revoked_long_ago", revoked_long_ago, now + 5 * DAY),
            ("revoked_lately", revoked_lately, now + 5 * DAY),
            ("chain_ended", chain_ended, now - 2 * DAY),
            ("chain_live", chain_live, now + 10 * DAY),
        ):
            links = [
                _token(grant, created=grant.created_at, absolute=absolute, rotated=True),
                _token(grant, created=grant.created_at + DAY, absolute=absolute, rotated=False),
            ]
            session.add_all(links)
            tokens[name] = links
    gone += [(Grant, g.id) for g in (revoked_long_ago, chain_ended, no_tokens_old)]
    kept += [(Grant, g.id) for g in (revoked_lately, chain_live, no_tokens_new)]
    for name in ("revoked_long_ago", "chain_ended"):
        gone += [(RefreshToken, t.token_hash) for t in tokens[name]]
    for name in ("revoked_lately", "chain_live"):
        # A live chain keeps its rotated links: presenting one again is reuse, detected.
        kept += [(RefreshToken, t.token_hash) for t in tokens[name]]

    await Maintenance(ctx).run_once()
    assert [r for r in gone if await _exists(ctx, *r)] == []
    assert [r for r in kept if not await _exists(ctx, *r)] == []


async def test_the_purge_works_through_a_backlog_in_bounded_batches(
    ctx: Context, person: Person
) -> None:
    now = ctx.clock.now()
    async with ctx.db.transaction() as session:
        rows = [_session(person, now, ended=now - 3 * DAY, expires=now + DAY) for _ in range(7)]
        session.add_all(rows)
    small = ctx.settings.model_copy(
        update={"housekeeping": ctx.settings.housekeeping.model_copy(update={"batch_size": 2})}
    )
    purged = await purge_expired(ctx.db, small, now)
    assert purged["sessions"] >= 7
    assert [r.id for r in rows if await _exists(ctx, BrowserSession, r.id)] == []


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        yield client


async def _refresh(http: httpx.AsyncClient, rp: RP, token: str) -> httpx.Response:
    assert rp.client_secret is not None
    return await http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(rp.client_id, rp.client_secret),
    )


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


async def test_a_replayed_refresh_token_is_refused_before_and_after_its_grant_is_purged(
    http: httpx.AsyncClient,
    browser: Browser,
    rp: RP,
    person: Person,
    ctx: Context,
    clock: OffsetClock,
) -> None:
    callback, verifier, _ = await log_in(browser, rp, person, scope="openid profile")
    first = (await redeem(http, rp, callback["code"], verifier)).json()["refresh_token"]
    rotated = await _refresh(http, rp, first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    maintenance = Maintenance(ctx)
    retention = ctx.settings.housekeeping.retention
    # Days later, within the chain's life: housekeeping keeps the rotated link, so presenting
    # it again is still recognised as reuse and revokes the grant.
    clock.advance(retention + 3600)
    await maintenance.run_once()
    _refused(await _refresh(http, rp, first))
    _refused(await _refresh(http, rp, second))  # the whole grant is revoked
    async with ctx.db.read() as session:
        row = await session.get(RefreshToken, digest(second))
        assert row is not None
        grant = await session.get(Grant, row.grant_id)
        assert grant is not None
        assert grant.revoked_reason is not None
        grant_id = grant.id
    # A retention after the revocation the grant and its chain are gone: still refused.
    clock.advance(retention + 3600)
    await maintenance.run_once()
    assert not await _exists(ctx, Grant, grant_id)
    _refused(await _refresh(http, rp, first))
    _refused(await _refresh(http, rp, second))


SWEEP = (
    "SELECT id FROM browser_sessions WHERE ended_at IS NULL "
    "AND (expires_at <= :now OR last_seen_at <= :idle) LIMIT 500"
)
PURGES = {
    "ix_browser_sessions_ended_at": (
        "SELECT id FROM browser_sessions WHERE ended_at < :now LIMIT 10"
    ),
    "ix_grants_revoked_at": "SELECT id FROM grants WHERE revoked_at < :now LIMIT 10",
    "ix_grants_created_at": "SELECT id FROM grants WHERE created_at < :now LIMIT 10",
    "ix_refresh_tokens_absolute_expires_at": (
        "SELECT token_hash FROM refresh_tokens WHERE absolute_expires_at < :now LIMIT 10"
    ),
}


async def test_the_sweep_and_the_purge_read_through_their_indexes(
    ctx: Context, backend: str
) -> None:
    async with ctx.db.read() as session:
        names = await session.run_sync(
            lambda sync: {
                index["name"]
                for table in ("browser_sessions", "grants", "refresh_tokens")
                for index in inspect(sync.connection()).get_indexes(table)
            }
        )
    expected = {
        "ix_browser_sessions_open_expires_at",
        "ix_browser_sessions_open_last_seen_at",
        *PURGES,
    }
    assert expected <= names, expected - names

    now = ctx.clock.now()
    params = {"now": now, "idle": now - HOUR}
    async with ctx.db.read() as session:
        if backend == "postgresql":
            # On a small test table a sequential scan is cheaper; forbid it to see that the
            # planner can answer each query from its index at all.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        plans = {}
        for name, sql in {"sweep": SWEEP, **PURGES}.items():
            rows = (await session.execute(text(explain + sql), params)).all()
            plans[name] = " ".join(str(part) for row in rows for part in row)
    sweep_indexes = ["ix_browser_sessions_open_expires_at", "ix_browser_sessions_open_last_seen_at"]
    # Only open sessions are read (a partial index), never the ended ones that make up most of
    # the table; on a small table the planners walk one index and filter on the other deadline.
    assert any(index in plans["sweep"] for index in sweep_indexes), plans["sweep"]
    for index in PURGES:
        assert index in plans[index], plans[index]
