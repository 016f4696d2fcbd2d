"""The verifier contract (idp.levels.verifiers.contract) run against the memory fake and the
http verifier talking to the registry simulator on a real port, over plain HTTP and over mutual
TLS. Only the far side is ours."""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from idp.levels.simulator import build_app
from idp.levels.verifiers.contract import VerifierContract, VerifierHarness
from idp.levels.verifiers.memory import MemoryOptions, MemoryVerifier
from idp.levels.verifiers.protocol import (
    CheckKind,
    DocumentQuery,
    PersonQuery,
    Query,
    Verdict,
)
from idp.levels.verifiers.registry import build_verifiers
from idp.settings import RegistriesSettings, RegistryHttpSettings
from tests.support import registry_kit
from tests.support.live import LiveServer, free_port
from tests.support.tls_ca import LocalCA

KINDS = frozenset(CheckKind)


def _memory_key(query: Query) -> str:
    if isinstance(query, PersonQuery):
        return query.snils
    if isinstance(query, DocumentQuery):
        return (query.series or "") + query.number
    return query.inn


# The fake answers by number alone: the matches get numbers of their own.
MEMORY_QUERIES = {
    **registry_kit.SEEDED,
    (CheckKind.PERSON, Verdict.MATCH): registry_kit.person("11223344595"),
    (CheckKind.DOCUMENT, Verdict.MATCH): registry_kit.document("4510", "654321"),
}


def _memory_fake() -> MemoryVerifier:
    answers = {
        _memory_key(query): verdict
        for (_, verdict), query in MEMORY_QUERIES.items()
        if verdict is not Verdict.MATCH
    }
    return MemoryVerifier(MemoryOptions(answers=answers))


@dataclass
class MemoryHarness:
    fake: MemoryVerifier = field(default_factory=_memory_fake)
    kinds: frozenset[CheckKind] = KINDS

    @property
    def verifier(self) -> Any:
        return self.fake

    def query(self, kind: CheckKind, verdict: Verdict) -> Query | None:
        return MEMORY_QUERIES.get((kind, verdict))

    async def submits(self) -> int | None:
        return self.fake.submits

    async def hold_answers(self) -> None:
        self.fake.options.pending_polls = 1_000_000

    async def release_answers(self) -> None:
        self.fake.options.pending_polls = 0

    async def go_down(self) -> None:
        self.fake.down = True

    async def come_back(self) -> None:
        self.fake.down = False


class TestMemoryVerifier(VerifierContract):
    @asynccontextmanager
    async def harness(self) -> AsyncIterator[VerifierHarness]:
        yield MemoryHarness()


@dataclass
class SimulatorHarness:
    """The http verifier, chosen for every registry in settings, and a simulator."""

    verifier: Any
    sim: LiveServer
    admin: str  # the simulator's base URL for admin calls (plain HTTP or TLS alike)
    tls: ssl.SSLContext | None = None  # with a client certificate, for admin calls over TLS
    kinds: frozenset[CheckKind] = KINDS

    def query(self, kind: CheckKind, verdict: Verdict) -> Query | None:
        return registry_kit.SEEDED.get((kind, verdict))

    async def _configure(self, **changes: Any) -> None:
        async with httpx.AsyncClient(verify=self.tls or True) as client:
            response = await client.put(f"{self.admin}/admin/config", json=changes)
            assert response.status_code == 200, response.text

    async def submits(self) -> int | None:
        async with httpx.AsyncClient(verify=self.tls or True) as client:
            stats = (await client.get(f"{self.admin}/admin/stats")).json()
        return sum(stats["submits"].values())

    async def hold_answers(self) -> None:
        await self._configure(latency=3600)

    async def release_answers(self) -> None:
        await self._configure(latency=0)

    async def go_down(self) -> None:
        await self._configure(outage_seconds=3600)

    async def come_back(self) -> None:
        await self._configure(outage_seconds=None)


def http_verifier(**http: Any) -> Any:
    settings = RegistriesSettings(http=RegistryHttpSettings(retry_backoff=0.01, **http))
    verifiers = build_verifiers(settings)
    assert len({id(v) for v in verifiers.values()}) == 1  # one instance serves all three
    return verifiers[CheckKind.PERSON]


@contextmanager
def mutual_tls_simulator(directory: Path) -> Iterator[tuple[LocalCA, LiveServer, Path, Path]]:
    """The simulator over TLS, asking every client for a certificate from its CA."""
    ca = LocalCA.create(directory / "ca")
    server_cert, server_key = ca.issue("127.0.0.1")
    client_cert, client_key = ca.issue("idp-client", client=True)
    sim = LiveServer(
        build_app(),
        free_port(),
        ssl_certfile=str(server_cert),
        ssl_keyfile=str(server_key),
        ssl_ca_certs=str(ca.ca_file),
        ssl_cert_reqs=ssl.CERT_REQUIRED,
    ).start()
    try:
        yield ca, sim, client_cert, client_key
    finally:
        sim.stop()


class TestHttpVerifierWithSimulator(VerifierContract):
    @asynccontextmanager
    async def harness(self) -> AsyncIterator[VerifierHarness]:
        sim = LiveServer(build_app(), free_port()).start()
        try:
            yield SimulatorHarness(http_verifier(base_url=sim.url), sim, sim.url)
        finally:
            sim.stop()


class TestHttpVerifierOverMutualTls(VerifierContract):
    @asynccontextmanager
    async def harness(self) -> AsyncIterator[VerifierHarness]:
        with (
            tempfile.TemporaryDirectory() as tmp,
            mutual_tls_simulator(Path(tmp)) as (ca, sim, cert, key),
        ):
            verifier = http_verifier(
                base_url=sim.url,
                client_cert=str(cert),
                client_key=str(key),
                ca_file=str(ca.ca_file),
            )
            admin = ca.client_context()
            admin.load_cert_chain(cert, key)
            yield SimulatorHarness(verifier, sim, sim.url, tls=admin)
