"""Shared fixtures. Every test that touches storage runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``scripts/with-postgres`` (``make test``), which sets
``IDP_TEST_POSTGRES_URL``. Without it the PostgreSQL half fails loudly rather than skipping.
``IDP_TEST_BACKENDS=sqlite`` narrows a local run on purpose.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.app import create_app
from idp.clock import OffsetClock
from idp.context import Context
from idp.db.migrate import upgrade
from idp.levels.simulator import build_app as build_registry_sim
from idp.settings import (
    LogoutSettings,
    NotifySettings,
    RegistriesSettings,
    RegistryHttpSettings,
    Settings,
    VerificationSettings,
)
from tests.support.browser import Browser
from tests.support.factories import RP, Person, make_person, make_rp
from tests.support.live import LiveServer, free_port
from tests.support.pki import TestPki

BACKENDS = os.environ.get("IDP_TEST_BACKENDS", "sqlite,postgresql").split(",")
TEST_KEK = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Keep each database's tests on one xdist worker (``make test`` runs ``-n 2``).

    The tests of one backend share one server and one database and some count rows in it, so
    they must not run beside each other; the two backends can. Tests that use neither are spread
    over the workers as they come free. (The ``xdist_group`` mark would say the same, but
    pytest-xdist 3.8 cannot rename pytest 9.2's node ids, so the grouping is done here.)
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ByBackend(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return backend_of(nodeid) or nodeid

    return ByBackend(config, log)


def backend_of(nodeid: str) -> str | None:
    """``sqlite`` for ``test_x[sqlite-case]``: the backend among a test's parameter ids."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    ids = nodeid[nodeid.index("[") + 1 : -1].split("-")
    return next((b for b in BACKENDS if b in ids), None)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "idp.db"
        return f"sqlite+aiosqlite:///{path}"
    url = os.environ.get("IDP_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("IDP_TEST_POSTGRES_URL is not set: run the suite with `make test`")
    return url


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Path:
    return tmp_path_factory.mktemp(f"var-{backend}")


@pytest.fixture(scope="session")
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture(scope="session")
def port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def registry_sim() -> Iterator[LiveServer]:
    """The registry simulator on a free port, shared by the session (tests/support/
    registry_kit.py steers it; reset it before changing it)."""
    live = LiveServer(build_registry_sim(), free_port()).start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def test_pki() -> Iterator[TestPki]:
    """The session's test PKI (tests/support/pki.py): CAs for every algorithm, persons made on
    demand, their CRLs and OCSP answers served on a free loopback port."""
    port = free_port()
    pki = TestPki(f"http://127.0.0.1:{port}")
    live = LiveServer(pki.app, port).start()
    yield pki
    live.stop()


@pytest.fixture(scope="session")
def settings(database_url: str, var_dir: Path, port: int, registry_sim: LiveServer) -> Settings:
    return Settings(
        # Dev mode: the test servers listen on plain http and keep messages in the dev sink,
        # which outside dev mode stop start-up (idp.startup_checks; tests/integration/
        # test_startup_checks.py builds production settings with support.production).
        dev_mode=True,
        issuer=f"http://127.0.0.1:{port}",
        database_url=database_url,
        var_dir=var_dir,
        key_encryption_key=TEST_KEK,
        trusted_proxies=["127.0.0.1/32", "::1/128"],  # the test client is the proxy
        client_cache_ttl=0.5,
        key_cache_ttl=0.5,
        # Relying parties in tests listen on loopback; retries are fast so tests stay short.
        logout=LogoutSettings(
            block_private_addresses=False,
            backoff_base=0.2,
            backoff_max=1.0,
            poll_interval=0.1,
            # Generous: a loaded machine must not see a lease run out under a healthy delivery
            # (the result would be refused and the token sent twice). Tests that need a lease
            # to run out set a short one on their own instance.
            lease=30.0,
            inline_wait=1.0,
            request_timeout=1.0,
            connect_timeout=0.5,
        ),
        # Messages land in the dev sink (a table) where tests read codes and links.
        # The SMS budget and the per-sender cap have their own tests (test_send_caps.py): the
        # others send from one loopback address, many messages an hour.
        notify=NotifySettings(
            email_backend="dev", sms_backend="dev", poll_interval=0.1, sms_hourly_budget=100_000
        ),
        verification=VerificationSettings(max_sends_per_sender_per_hour=100_000),
        # The http verifier asks the session's simulator; polls and retries are quick.
        registries=RegistriesSettings(
            http=RegistryHttpSettings(base_url=registry_sim.url),
            # Tests save one person's data many times; the daily cap has its own test
            # (test_personal_data_races.py) on a server of its own.
            max_changes_per_day=100_000,
            poll_interval=0.1,
            answer_wait_base=0.1,
            answer_wait_max=0.5,
            backoff_base=0.2,
            backoff_max=1.0,
            lease=30.0,
        ),
    )


@pytest.fixture(scope="session")
async def migrated(settings: Settings) -> str:
    await upgrade(settings.database_url)
    return settings.database_url


@pytest.fixture(scope="session")
def server(
    settings: Settings, clock: OffsetClock, migrated: str, port: int
) -> Iterator[LiveServer]:
    live = LiveServer(create_app(settings, clock=clock), port).start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
async def ctx(settings: Settings, clock: OffsetClock, server: LiveServer) -> AsyncIterator[Context]:
    context = Context.build(settings, clock)
    yield context
    await context.close()


@pytest.fixture(autouse=True)
def _reset_clock(clock: OffsetClock) -> Iterator[None]:
    yield
    clock.reset()


@pytest.fixture
async def browser(server: LiveServer) -> AsyncIterator[Browser]:
    b = Browser(server.url)
    yield b
    await b.close()


@pytest.fixture
async def person(ctx: Context) -> Person:
    return await make_person(ctx)


@pytest.fixture
async def rp(ctx: Context) -> RP:
    return await make_rp(ctx, require_consent=False)
