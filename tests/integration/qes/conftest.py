"""The confirmation tests' servers and test PKI.

``qes_server`` is the app with a trust list it rechecks at once: the session's server keeps its
copy ``signatures.trust_recheck`` (30 s) and may have read it before a test trusted the test
PKI's root. ``pki`` is the session's test PKI with its P-256 root trusted (as ``idp trust
import`` would: ``trust_ca``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idp.clock import OffsetClock
from idp.context import Context
from idp.settings import Settings
from tests.support.api_kit import serve_variant
from tests.support.live import LiveServer
from tests.support.pki import TestPki, trust_ca


@pytest.fixture(scope="module")
def qes_server(settings: Settings, clock: OffsetClock, server: LiveServer) -> Iterator[LiveServer]:
    signatures = settings.signatures.model_copy(update={"trust_recheck": 0.05})
    live = serve_variant(settings, clock, signatures=signatures)
    yield live
    live.stop()


@pytest.fixture
async def pki(ctx: Context, test_pki: TestPki) -> TestPki:
    async with ctx.db.transaction() as session:
        await trust_ca(
            session,
            test_pki.root("p256").certificate,
            name="idp test root p256",
            source="test-pki",
            now=ctx.clock.now(),
        )
    return test_pki
