"""The verifier contract fails verifiers that break it: each broken verifier below must fail the
check written for its defect, and the fake they derive from passes them all."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from idp.levels.verifiers.contract import VerifierContract, VerifierHarness
from idp.levels.verifiers.memory import MemoryVerifier
from idp.levels.verifiers.protocol import (
    Answer,
    CheckKind,
    PersonQuery,
    RegistryUnavailable,
    RequestRejected,
    Verdict,
)
from tests.integration.test_verifier_contract import MemoryHarness, _memory_fake


class ForgetsKeys(MemoryVerifier):
    async def submit_person(self, query: PersonQuery, *, idempotency_key: str) -> str:
        fresh = f"{idempotency_key}-{self.submits}"  # a new request every time
        return await super().submit_person(query, idempotency_key=fresh)


class NeverPending(MemoryVerifier):
    async def answer(self, kind: CheckKind, reference: str) -> Answer:
        polls, self.options.pending_polls = self.options.pending_polls, 0
        try:
            return await super().answer(kind, reference)
        finally:
            self.options.pending_polls = polls


class LostIsInvalid(MemoryVerifier):
    async def answer(self, kind: CheckKind, reference: str) -> Answer:
        answer = await super().answer(kind, reference)
        if answer.verdict is Verdict.DOCUMENT_LOST:
            return Answer(Verdict.DOCUMENT_INVALID)
        return answer


class OutageIsFinal(MemoryVerifier):
    def _reachable(self) -> None:
        if self.down:
            raise RequestRejected("the registry refused")


class LeaksTheSnils(MemoryVerifier):
    async def submit_person(self, query: PersonQuery, *, idempotency_key: str) -> str:
        try:
            return await super().submit_person(query, idempotency_key=idempotency_key)
        except RegistryUnavailable:
            raise RegistryUnavailable(f"could not check SNILS {query.snils}") from None


class AcknowledgesOnce(MemoryVerifier):
    async def acknowledge(self, kind: CheckKind, reference: str) -> None:
        request = self.requests.get(reference)
        if request is None or request.acknowledged:
            raise RequestRejected("already acknowledged")
        await super().acknowledge(kind, reference)


class ClosesOnce(MemoryVerifier):
    closed = False

    async def close(self) -> None:
        if self.closed:
            raise RuntimeError("already closed")
        self.closed = True


def _contract(verifier: Callable[[], MemoryVerifier]) -> VerifierContract:
    class Broken(VerifierContract):
        timeout = 5.0

        @asynccontextmanager
        async def harness(self) -> AsyncIterator[VerifierHarness]:
            fake = verifier()
            fake.options = _memory_fake().options
            yield MemoryHarness(fake)

    return Broken()


@pytest.mark.parametrize(
    ("verifier", "check", "error"),
    [
        (ForgetsKeys, "test_the_same_idempotency_key_gives_the_same_reference", AssertionError),
        (NeverPending, "test_an_answer_is_pending_until_the_registry_decides", AssertionError),
        (LostIsInvalid, "test_each_verdict_comes_through", AssertionError),
        (OutageIsFinal, "test_an_outage_is_registry_unavailable_and_passes", AssertionError),
        (LeaksTheSnils, "test_an_outage_is_registry_unavailable_and_passes", AssertionError),
        (AcknowledgesOnce, "test_acknowledge_may_be_repeated", RequestRejected),
        (ClosesOnce, "test_close_may_be_called_twice", RuntimeError),
    ],
    ids=["keys", "pending", "lost", "outage", "leak", "ack", "close"],
)
def test_the_contract_fails_a_verifier_that_breaks_it(
    verifier: Callable[[], MemoryVerifier], check: str, error: type[Exception]
) -> None:
    contract = _contract(verifier)
    with pytest.raises(error):
        getattr(contract, check)()


def test_the_contract_passes_the_fake_they_derive_from() -> None:
    contract = _contract(MemoryVerifier)
    for name in dir(contract):
        if name.startswith("test_"):
            getattr(contract, name)()
