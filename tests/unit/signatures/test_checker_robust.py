"""The checker under faults and load: a pool whose worker was killed, more verifications than
places, one that runs out of time, a misconfigured plug-in or profile, a fault inside a step."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idp.clock import SystemClock
from idp.plugins import PluginError
from idp.settings import SignaturesSettings
from idp.signatures import checker as checker_module
from idp.signatures.checker import SignatureChecker
from idp.signatures.dev import pki
from idp.signatures.paths import parsed_anchors
from idp.signatures.profiles import PROFILES
from idp.signatures.result import (
    Reason,
    RevocationBusy,
    Verification,
    VerificationUnavailable,
)
from tests.support.signature_kit import (
    CONTENT,
    CrlsInMemory,
    Trust,
    anchor,
    checker,
    crls,
    person,
    root,
)


async def verify(checker_: SignatureChecker, der: bytes) -> Verification:
    now = datetime.now(UTC)
    return await checker_.verify(
        der,
        CONTENT,
        signed_after=now - timedelta(minutes=5),
        signed_before=now + timedelta(minutes=5),
    )


def test_a_killed_worker_does_not_break_later_verifications() -> None:
    der = pki.sign_cms(CONTENT, person("p256"))

    async def scenario() -> None:
        c = checker(pool="process", pool_size=1)
        try:
            assert (await verify(c, der)).ok
            for pid in list(c._pool._processes):  # type: ignore[attr-defined]
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.3)
            second = await verify(c, der)
            assert second.ok, second
            assert c.rebuilds == 1
            assert (await verify(c, der)).ok
        finally:
            await c.close()

    asyncio.run(scenario())


def test_a_hung_worker_makes_the_watchdog_replace_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker that stops (SIGSTOP: as stuck as a worker gets) never finishes its step: the
    # verification is unavailable at verify_timeout; past the watchdog's margin the pool is
    # replaced, the stuck worker killed, every place given back, and the next one succeeds.
    monkeypatch.setattr(checker_module, "WATCHDOG_MARGIN", 0.5)
    der = pki.sign_cms(CONTENT, person("p256"))

    async def scenario() -> None:
        c = checker(pool="process", pool_size=1, max_in_flight=2, verify_timeout=3)
        stopped: list[int] = []
        try:
            assert (await verify(c, der)).ok  # the worker is up
            for pid in list(c._pool._processes):  # type: ignore[attr-defined]
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            with pytest.raises(VerificationUnavailable) as overdue:
                await verify(c, der)
            assert overdue.value.spent  # the pool had it
            assert c.rebuilds == 0
            for _ in range(50):
                await asyncio.sleep(0.1)
                if c.rebuilds and c._places._value == 2:  # type: ignore[attr-defined]
                    break
            assert c.rebuilds == 1
            assert c._places._value == 2  # type: ignore[attr-defined]
            assert (await verify(c, der)).ok
            assert c._places._value == 2  # type: ignore[attr-defined]
        finally:
            for pid in stopped:  # the watchdog killed it; in case it did not
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            await c.close()

    asyncio.run(scenario())


class Busy(CrlsInMemory):
    """A source whose process has no fetch slot in time (what RevocationFetcher raises then:
    tests/integration/signatures/test_revocation.py)."""

    def __init__(self) -> None:
        super().__init__(crls().crls)
        self.asked = 0

    async def crl(self, url: str) -> bytes:
        self.asked += 1
        raise RevocationBusy(f"CRL from {url}: waiting for one of revocation_concurrency's slots")


def test_a_busy_revocation_source_is_unavailable_not_a_refusal() -> None:
    # Nothing was learnt about the certificate's status: "try again later", not the refusal
    # revocation_unavailable (which would burn the person's challenge for the server's load).
    der = pki.sign_cms(CONTENT, person("p256"))

    async def scenario() -> None:
        source = Busy()
        c = checker(revocation=source, max_in_flight=1)
        try:
            with pytest.raises(VerificationUnavailable) as unavailable:
                await verify(c, der)
            assert unavailable.value.retry_after > 0
            assert unavailable.value.spent  # the first step ran before the fetches
            assert source.asked == 1
            assert c._places._value == 1  # type: ignore[attr-defined]
            assert (await verify(checker(revocation=crls()), der)).ok
        finally:
            await c.close()

    asyncio.run(scenario())


class Held(CrlsInMemory):
    """CRLs from memory, each fetch held until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__(crls().crls)
        self.release = asyncio.Event()

    async def crl(self, url: str) -> bytes:
        await self.release.wait()
        return await super().crl(url)


def test_more_verifications_than_places_are_told_to_come_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checker_module, "QUEUE_WAIT", 0.2)
    der = pki.sign_cms(CONTENT, person("p256"))

    async def scenario() -> None:
        source = Held()
        c = checker(revocation=source, max_in_flight=1)
        try:
            first = asyncio.create_task(verify(c, der))
            await asyncio.sleep(0.3)
            with pytest.raises(VerificationUnavailable) as busy:
                await verify(c, der)
            assert busy.value.retry_after > 0
            assert not busy.value.spent  # no place: nothing ran for it
            source.release.set()
            assert (await first).ok
            assert (await verify(c, der)).ok  # the place was given back
        finally:
            await c.close()

    asyncio.run(scenario())


def test_a_verification_out_of_time_is_unavailable_and_gives_its_place_back() -> None:
    der = pki.sign_cms(CONTENT, person("p256"))

    async def scenario() -> None:
        source = Held()
        c = checker(revocation=source, max_in_flight=1, verify_timeout=0.5)
        try:
            with pytest.raises(VerificationUnavailable) as late:
                await verify(c, der)
            assert late.value.spent
            source.release.set()
            assert (await verify(c, der)).ok
        finally:
            await c.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "settings",
    [{"algorithms": ["pyca", "gots"]}, {"profiles": ["ru-fsb795", "eu-eidsa"]}],
)
def test_a_misspelt_plugin_or_profile_stops_start_up(settings: dict[str, Any]) -> None:
    with pytest.raises(PluginError) as failure:
        SignatureChecker(
            SignaturesSettings(pool="thread", **settings),
            trust=Trust(),
            revocation=crls(),
            clock=SystemClock(),
        )
    assert "\n" not in str(failure.value)
    assert ("gots" in str(failure.value)) or ("eu-eidsa" in str(failure.value))


class Faulty:
    name = "faulty"

    def identity(self, certificate: bytes) -> None:
        return None

    def qualification(self, certificate: bytes, anchor: object) -> None:
        raise RuntimeError("SNILS 11223344595 broke me")


def test_a_fault_inside_a_step_is_unavailable_and_logged_without_data(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(PROFILES, "faulty", Faulty())
    der = pki.sign_cms(CONTENT, person("p256"))
    c = checker(profiles=["faulty"])

    async def scenario() -> None:
        try:
            with pytest.raises(VerificationUnavailable) as failed:
                await verify(c, der)
            assert failed.value.spent  # both steps ran
        finally:
            await c.close()

    with caplog.at_level(logging.ERROR, logger="idp.signatures"):
        asyncio.run(scenario())
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors
    assert "RuntimeError" in errors[0].getMessage()
    assert "11223344595" not in caplog.text


def test_hostile_bytes_are_still_malformed_not_unavailable() -> None:
    c = checker()
    assert asyncio.run(_closing(c, verify(c, b"\x30\x80" + b"\x00" * 40))).reason is (
        Reason.MALFORMED
    )


async def _closing(c: SignatureChecker, work: Any) -> Verification:
    try:
        return await work  # type: ignore[no-any-return]
    finally:
        await c.close()


def test_a_worker_parses_a_trust_list_once() -> None:
    anchors = tuple(anchor(root(a)) for a in ("p256", "rsa2048"))
    first = parsed_anchors(anchors)
    assert parsed_anchors(tuple(anchors)) is first
    assert parsed_anchors(anchors[:1]) is not first


class UnreadableTrust:
    async def anchors(self) -> tuple[object, ...]:
        raise OSError("the database is gone")


def test_an_unreadable_trust_list_is_unavailable_and_nothing_was_spent() -> None:
    der = pki.sign_cms(CONTENT, person("p256"))

    async def scenario() -> None:
        c = SignatureChecker(
            SignaturesSettings(pool="thread", pool_size=1),
            trust=UnreadableTrust(),  # type: ignore[arg-type]
            revocation=crls(),
            clock=SystemClock(),
        )
        try:
            with pytest.raises(VerificationUnavailable) as unavailable:
                await verify(c, der)
            assert not unavailable.value.spent
        finally:
            await c.close()

    asyncio.run(scenario())
