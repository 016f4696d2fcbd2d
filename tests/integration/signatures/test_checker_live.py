"""The checker with the real RevocationFetcher against the test PKI's CRL and OCSP responder on
loopback (the ``test_pki`` fixture): good and revoked over OCSP, revoked over a CRL alone, a
responder that is down (fail closed, and open when settings say ``accept``), the cache, and
concurrent verifications sharing one fetch per URL. The responder counts its requests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from idp.clock import SystemClock
from idp.settings import SignaturesSettings
from idp.signatures.checker import SignatureChecker
from idp.signatures.dev import pki
from idp.signatures.protocol import TrustedCA
from idp.signatures.result import Reason, Verification
from idp.signatures.revocation.fetcher import RevocationFetcher
from tests.support.live import free_port
from tests.support.pki import TestPki
from tests.support.signature_kit import CONTENT, Trust

ALGOS: tuple[pki.KeyAlgo, ...] = ("rsa2048", "p256", "gost256", "gost512")


@pytest.fixture
async def fetcher() -> AsyncIterator[RevocationFetcher]:
    fetcher = RevocationFetcher(SignaturesSettings(), allow_private=True)
    yield fetcher
    await fetcher.aclose()


def make_checker(
    anchors: tuple[TrustedCA, ...], fetcher: RevocationFetcher, **settings: Any
) -> SignatureChecker:
    options: dict[str, Any] = {"pool": "thread", "pool_size": 2, "revocation_timeout": 3.0}
    options.update(settings)
    return SignatureChecker(
        SignaturesSettings(**options),
        trust=Trust(*anchors),
        revocation=fetcher,
        clock=SystemClock(),
    )


async def verify(checker: SignatureChecker, signature: bytes) -> Verification:
    now = datetime.now(UTC)
    return await checker.verify(
        signature,
        CONTENT,
        signed_after=now - timedelta(minutes=5),
        signed_before=now + timedelta(minutes=5),
    )


async def verify_once(
    anchors: tuple[TrustedCA, ...], fetcher: RevocationFetcher, signature: bytes, **settings: Any
) -> Verification:
    checker = make_checker(anchors, fetcher, **settings)
    try:
        return await verify(checker, signature)
    finally:
        await checker.close()


def delta(after: Counter[tuple[str, str]], before: Counter[tuple[str, str]]) -> dict[Any, int]:
    return {key: after[key] - before[key] for key in after if after[key] != before[key]}


@pytest.mark.parametrize("algo", ALGOS)
async def test_ocsp_good(test_pki: TestPki, fetcher: RevocationFetcher, algo: pki.KeyAlgo) -> None:
    person = test_pki.person(algo, revocation="ocsp")
    before = Counter(test_pki.requests)
    result = await verify_once(test_pki.anchors, fetcher, test_pki.sign(CONTENT, person))
    assert result.ok, result
    assert result.identity is not None
    assert result.identity.snils == "11223344595"
    asked = delta(test_pki.requests, before)
    # The person over OCSP; the intermediate (CRL and OCSP pointers) over OCSP first.
    assert asked == {("ocsp", f"ca-{algo}"): 1, ("ocsp", f"root-{algo}"): 1}, asked


@pytest.mark.parametrize("algo", ["p256", "gost256"])
async def test_ocsp_revoked(
    test_pki: TestPki, fetcher: RevocationFetcher, algo: pki.KeyAlgo
) -> None:
    person = test_pki.person(algo, revocation="ocsp", revoked=True)
    result = await verify_once(test_pki.anchors, fetcher, test_pki.sign(CONTENT, person))
    assert result.reason is Reason.REVOKED, result


@pytest.mark.parametrize("algo", ["rsa2048", "gost512"])
async def test_crl_only_revoked(
    test_pki: TestPki, fetcher: RevocationFetcher, algo: pki.KeyAlgo
) -> None:
    person = test_pki.person(algo, revocation="crl", revoked=True)
    before = Counter(test_pki.requests)
    result = await verify_once(test_pki.anchors, fetcher, test_pki.sign(CONTENT, person))
    assert result.reason is Reason.REVOKED, result
    asked = delta(test_pki.requests, before)
    assert asked.get(("crl", f"ca-{algo}")) == 1, asked
    assert ("ocsp", f"ca-{algo}") not in asked, asked


async def test_crl_only_good(test_pki: TestPki, fetcher: RevocationFetcher) -> None:
    person = test_pki.person("p256", revocation="crl")
    result = await verify_once(test_pki.anchors, fetcher, test_pki.sign(CONTENT, person))
    assert result.ok, result


async def test_revoked_after_issue_is_refused_once_the_cache_lapses(
    test_pki: TestPki, fetcher: RevocationFetcher
) -> None:
    # A fresh fetcher (an empty cache) sees a revocation made a moment ago.
    person = test_pki.person("p256", revocation="ocsp", surname="Отозванная")
    signature = test_pki.sign(CONTENT, person)
    assert (await verify_once(test_pki.anchors, fetcher, signature)).ok
    test_pki.revoke(person)
    fresh = RevocationFetcher(SignaturesSettings(), allow_private=True)
    try:
        result = await verify_once(test_pki.anchors, fresh, signature)
    finally:
        await fresh.aclose()
    assert result.reason is Reason.REVOKED, result


class StartedEarlier:
    """The first reading is ``lag`` in the past (the verification started then, say on a busy
    pool); every later one is the real time."""

    def __init__(self, lag: timedelta) -> None:
        self.lag: timedelta | None = lag

    def now(self) -> datetime:
        lag, self.lag = self.lag, None
        return datetime.now(UTC) - (lag or timedelta())


async def test_a_fresh_answer_is_not_in_the_future_of_a_slow_verification(
    test_pki: TestPki, fetcher: RevocationFetcher
) -> None:
    # The responder signs its answer at the time of the request (thisUpdate: now); the path is
    # judged after the fetch, so a verification whose first step took long still passes.
    person = test_pki.person("p256", revocation="ocsp", surname="Медленная")
    checker = SignatureChecker(
        SignaturesSettings(pool="thread", pool_size=1),
        trust=Trust(*test_pki.anchors),
        revocation=fetcher,
        clock=StartedEarlier(timedelta(seconds=30)),
    )
    try:
        result = await verify(checker, test_pki.sign(CONTENT, person))
    finally:
        await checker.close()
    assert result.ok, result


async def test_a_responder_that_is_down(fetcher: RevocationFetcher) -> None:
    # A PKI whose CRLs and OCSP answers are published at a port nobody listens on.
    dark = TestPki(f"http://127.0.0.1:{free_port()}")
    signature = dark.sign(CONTENT, dark.person("p256"))
    closed = await verify_once(dark.anchors, fetcher, signature)
    assert closed.reason is Reason.REVOCATION_UNAVAILABLE, closed
    opened = await verify_once(dark.anchors, fetcher, signature, revocation_unavailable="accept")
    assert opened.ok, opened


async def test_accept_still_refuses_a_revoked_certificate(
    test_pki: TestPki, fetcher: RevocationFetcher
) -> None:
    person = test_pki.person("p256", revoked=True)
    signature = test_pki.sign(CONTENT, person)
    result = await verify_once(
        test_pki.anchors, fetcher, signature, revocation_unavailable="accept"
    )
    assert result.reason is Reason.REVOKED, result


async def test_a_warm_cache_makes_no_request(test_pki: TestPki, fetcher: RevocationFetcher) -> None:
    person = test_pki.person("gost256", surname="Кэшева")
    signature = test_pki.sign(CONTENT, person)
    checker = make_checker(test_pki.anchors, fetcher)
    try:
        first = Counter(test_pki.requests)
        assert (await verify(checker, signature)).ok
        second = Counter(test_pki.requests)
        assert delta(second, first), "the first verification asks the responder"
        assert (await verify(checker, signature)).ok
        assert delta(test_pki.requests, second) == {}
    finally:
        await checker.close()


async def test_concurrent_verifications_share_one_fetch_per_url(
    test_pki: TestPki, fetcher: RevocationFetcher
) -> None:
    person = test_pki.person("p256", surname="Параллельная")
    signature = test_pki.sign(CONTENT, person)
    checker = make_checker(test_pki.anchors, fetcher, pool_size=4)
    try:
        before = Counter(test_pki.requests)
        results = await asyncio.gather(*(verify(checker, signature) for _ in range(20)))
    finally:
        await checker.close()
    assert all(r.ok for r in results), [r.reason for r in results]
    asked = delta(test_pki.requests, before)
    assert asked, "nothing was fetched"
    assert all(count == 1 for count in asked.values()), asked
