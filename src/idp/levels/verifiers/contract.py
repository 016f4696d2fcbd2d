"""The contract every registry verifier must pass. Third-party plug-ins run it in their own tests.

Subclass :class:`VerifierContract` in a pytest module, name the class ``Test…`` and give it a
``harness``: an async context manager that starts whatever stands for the far side (a registry
gateway double on loopback, a test instance), builds the verifier under test and says how to
make the far side answer each verdict, hold its answers back, go down and come back::

    class TestAcmeGateway(VerifierContract):
        @asynccontextmanager
        async def harness(self) -> AsyncIterator[VerifierHarness]:
            gateway = await AcmeGatewayDouble.start()
            try:
                yield AcmeHarness(gateway, build_acme(VerifierSetup("acme", KINDS, {...})))
            finally:
                await gateway.stop()

Each check runs in an event loop of its own (``idp.plugins.testing.run_check``; no pytest-asyncio
needed), so the harness starts its servers inside ``harness()``. The checks close the verifier.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any, Protocol

from idp.levels.verifiers.protocol import (
    SERVES,
    Answer,
    CheckKind,
    Query,
    RegistryUnavailable,
    RequestRejected,
    Verdict,
    submit,
)
from idp.plugins.testing import run_check


class VerifierHarness(Protocol):
    @property
    def verifier(self) -> Any:
        """The verifier under test, built for this check, serving every kind in ``kinds``."""
        ...

    @property
    def kinds(self) -> frozenset[CheckKind]:
        """The registry kinds the verifier serves."""
        ...

    def query(self, kind: CheckKind, verdict: Verdict) -> Query | None:
        """A query the far side answers with ``verdict`` (MISMATCH: with at least one field),
        or None when this registry cannot give that verdict (a pension fund has no lost
        documents). Each call may return the same query: idempotency keys tell requests apart."""
        ...

    async def submits(self) -> int | None:
        """How many distinct requests the far side has taken so far (None: it cannot tell)."""
        ...

    async def hold_answers(self) -> None:
        """From now on every answer stays pending, until :meth:`release_answers`."""
        ...

    async def release_answers(self) -> None: ...

    async def go_down(self) -> None:
        """Make the far side unreachable or unavailable (an outage) until :meth:`come_back`."""
        ...

    async def come_back(self) -> None: ...


SETTLED = tuple(v for v in Verdict if v is not Verdict.PENDING)


def _key() -> str:
    return f"contract-{uuid.uuid4()}"


def _personal_values(query: Query) -> list[str]:
    """The values of a query that must never show in an error message."""
    found = []
    for value in dataclasses.asdict(query).values():
        if isinstance(value, date):
            found.append(value.isoformat())
        elif isinstance(value, str) and len(value) >= 4:
            found.append(value)
    return found


class VerifierContract:
    """The checks. Implement :meth:`harness`; everything else is inherited."""

    timeout: float = 30.0
    poll_pause: float = 0.05

    def harness(self) -> AbstractAsyncContextManager[VerifierHarness]:
        raise NotImplementedError("a VerifierContract subclass provides harness()")

    def test_the_verifier_serves_its_kinds(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            assert harness.kinds, "the harness names the kinds the verifier serves"
            for kind in harness.kinds:
                assert isinstance(harness.verifier, SERVES[kind]), kind

        self._run(check)

    def test_submit_returns_a_reference(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            for kind in sorted(harness.kinds):
                reference = await submit(
                    harness.verifier, _query(harness, kind, Verdict.MATCH), idempotency_key=_key()
                )
                assert isinstance(reference, str), reference
                assert reference.strip(), "an empty reference"

        self._run(check)

    def test_the_same_idempotency_key_gives_the_same_reference(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            for kind in sorted(harness.kinds):
                query, key = _query(harness, kind, Verdict.MATCH), _key()
                before = await harness.submits()
                first = await submit(harness.verifier, query, idempotency_key=key)
                again = await submit(harness.verifier, query, idempotency_key=key)
                assert again == first, (first, again)
                after = await harness.submits()
                if before is not None and after is not None:
                    assert after - before == 1, f"{after - before} requests for one key"
                other = await submit(harness.verifier, query, idempotency_key=_key())
                assert other != first, "another key must make another request"

        self._run(check)

    def test_an_answer_is_pending_until_the_registry_decides(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            kind = sorted(harness.kinds)[0]
            await harness.hold_answers()
            reference = await submit(
                harness.verifier, _query(harness, kind, Verdict.MATCH), idempotency_key=_key()
            )
            for _ in range(2):
                answer = await harness.verifier.answer(kind, reference)
                assert answer.verdict is Verdict.PENDING, answer
                assert not answer.settled
            await harness.release_answers()
            answer = await self._settled(harness, kind, reference)
            assert answer.verdict is Verdict.MATCH, answer

        self._run(check)

    def test_each_verdict_comes_through(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            seen = 0
            for kind in sorted(harness.kinds):
                for verdict in SETTLED:
                    query = harness.query(kind, verdict)
                    if query is None:
                        continue
                    seen += 1
                    reference = await submit(harness.verifier, query, idempotency_key=_key())
                    answer = await self._settled(harness, kind, reference)
                    assert answer.verdict is verdict, (kind, verdict, answer)
                    if verdict is Verdict.MISMATCH:
                        names = {f.name for f in dataclasses.fields(query)}
                        assert answer.fields, "a mismatch names the fields"
                        assert set(answer.fields) <= names, answer.fields
                    else:
                        assert answer.fields == (), answer
                    # Asked again (a replaced worker), the answer is the same.
                    assert await harness.verifier.answer(kind, reference) == answer
            assert seen >= len(harness.kinds) * 2, "the harness gives too few verdicts"

        self._run(check)

    def test_an_outage_is_registry_unavailable_and_passes(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            kinds = sorted(harness.kinds)
            queries = {kind: _query(harness, kind, Verdict.MATCH) for kind in kinds}
            references = {
                kind: await submit(harness.verifier, query, idempotency_key=_key())
                for kind, query in queries.items()
            }
            await harness.go_down()
            for kind, query in queries.items():
                reasons = [
                    await _unavailable(submit(harness.verifier, query, idempotency_key=_key())),
                    await _unavailable(harness.verifier.answer(kind, references[kind])),
                ]
                for reason in reasons:
                    assert reason.strip(), "an outage needs a reason operators can read"
                    for hidden in _personal_values(query):
                        assert hidden not in reason, f"{hidden!r} leaked into {reason!r}"
            await harness.come_back()
            for kind, query in queries.items():
                answer = await self._settled(harness, kind, references[kind])
                assert answer.verdict is Verdict.MATCH, answer
                later = await submit(harness.verifier, query, idempotency_key=_key())
                assert (await self._settled(harness, kind, later)).verdict is Verdict.MATCH

        self._run(check)

    def test_acknowledge_may_be_repeated(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            kind = sorted(harness.kinds)[0]
            reference = await submit(
                harness.verifier, _query(harness, kind, Verdict.MATCH), idempotency_key=_key()
            )
            await self._settled(harness, kind, reference)
            await harness.verifier.acknowledge(kind, reference)
            await harness.verifier.acknowledge(kind, reference)  # a replaced worker's
            await harness.verifier.acknowledge(kind, f"unknown-{uuid.uuid4().hex}")

        self._run(check)

    def test_close_may_be_called_twice(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            kind = sorted(harness.kinds)[0]
            await submit(
                harness.verifier, _query(harness, kind, Verdict.MATCH), idempotency_key=_key()
            )
            await harness.verifier.close()
            await harness.verifier.close()

        self._run(check)

    def test_close_before_any_call(self) -> None:
        async def check(harness: VerifierHarness) -> None:
            await harness.verifier.close()

        self._run(check)

    async def _settled(self, harness: VerifierHarness, kind: CheckKind, reference: str) -> Answer:
        """Poll until the answer is settled (within the check's timeout)."""
        deadline = time.monotonic() + self.timeout
        while True:
            answer: Answer = await harness.verifier.answer(kind, reference)
            if answer.settled:
                return answer
            assert time.monotonic() < deadline, "the answer never settled"
            await asyncio.sleep(self.poll_pause)

    def _run(self, check: Callable[[VerifierHarness], Awaitable[None]]) -> None:
        async def closing(harness: VerifierHarness) -> None:
            try:
                await check(harness)
            finally:
                await harness.come_back()
                await harness.verifier.close()

        run_check(self.harness, closing, self.timeout)


def _query(harness: VerifierHarness, kind: CheckKind, verdict: Verdict) -> Query:
    query = harness.query(kind, verdict)
    assert query is not None, f"the harness has no {kind.value} query answered {verdict.value}"
    return query


async def _unavailable(call: Awaitable[Any]) -> str:
    try:
        await call
    except RegistryUnavailable as failure:
        return str(failure)
    except RequestRejected as failure:
        raise AssertionError(f"an outage must not be final: RequestRejected({failure})") from None
    raise AssertionError("the call was expected to raise RegistryUnavailable")
