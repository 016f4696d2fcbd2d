"""Verifying a qualified electronic signature over a challenge: :class:`SignatureChecker`.

The event loop only awaits: the CPU work runs in the pool in two steps (``idp.signatures.pool``:
decode, CMS, candidate paths and the signature; then the paths with their revocation
information and the profiles), and between them the checker fetches the CRLs and OCSP responses
the paths need: OCSP first, and a certificate's CRL as well when its OCSP answer did not settle
its status (unknown, stale, for another certificate, badly signed).

The work is bounded per process: at most ``max_in_flight`` verifications at once (another waits
``QUEUE_WAIT`` seconds for a place), each within ``verify_timeout`` seconds; past either the
checker raises :class:`VerificationUnavailable` ("try again later"), never a refusal. A place
stays taken until the pool's work for it has ended, even when its caller gave up waiting: the
pool never holds more than ``max_in_flight`` verifications' work. A pool whose worker died (the
kernel's OOM killer) is rebuilt once and the step tried again. A pool step still not finished
``WATCHDOG_MARGIN`` seconds after ``verify_timeout`` (a worker stopped or stuck) makes the
checker replace that pool, its processes killed, and give the step's place back: later
verifications run on the new pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from idp.clock import Clock
from idp.settings import SignaturesSettings
from idp.signatures.algorithms.registry import load_algorithms
from idp.signatures.paths import RevocationNeed
from idp.signatures.pool import (
    Options,
    Prepared,
    Request,
    ShortOf,
    Unavailable,
    conclude,
    make_pool,
    pool_workers,
    prepare,
)
from idp.signatures.profiles import profiles_named
from idp.signatures.protocol import ForgettingRevocationSource, RevocationSource, TrustSource
from idp.signatures.result import (
    Reason,
    RevocationBusy,
    RevocationUnavailable,
    Verification,
    VerificationUnavailable,
)
from idp.signatures.revocation.fetcher import MAX_URLS_PER_KIND

logger = logging.getLogger("idp.signatures")

QUEUE_WAIT = 2.0  # seconds a verification waits for a place before "try again later"
RETRY_AFTER = 5  # seconds a caller is told to wait after VerificationUnavailable
_MAX_FALLBACKS = 3  # rounds of "fetch the CRL where the OCSP answer did not do"
# Seconds past ``verify_timeout`` after which a pool step still running is taken for hung: its
# verification has long been answered "try again later", and an honest step takes well under
# a second, so the margin only has to outlast a busy machine's scheduling.
WATCHDOG_MARGIN = 10.0

T = TypeVar("T")


@dataclass(slots=True)
class _Answer:
    kind: str  # "ocsp" | "crl" | "none"
    url: str
    body: bytes
    tried_crl: bool = False


class _Place:
    """One verification's place among ``max_in_flight``: given back once the verification
    ended and the pool's work for it too (a step cannot be stopped once a worker runs it)."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore = semaphore
        self._loop = asyncio.get_running_loop()
        self._future: Future[Any] | None = None
        self._given_back = False
        self.worked = False  # a pool step ran for this verification (VerificationUnavailable.spent)

    def track(self, future: Future[Any]) -> None:
        self._future = future

    def leave(self) -> None:
        future = self._future
        if future is None or future.done():
            self._give_back()
            return
        future.cancel()  # still queued: it never runs
        future.add_done_callback(self._from_pool)

    def abandon(self) -> None:
        """The pool running this place's step was abandoned as hung: the place is free again
        (the step's worker was killed, or for a thread pool, left to end on its own)."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._give_back)

    def _from_pool(self, _: Future[Any]) -> None:
        # A closed loop (RuntimeError): nobody waits for the place any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._give_back)

    def _give_back(self) -> None:
        if not self._given_back:
            self._given_back = True
            self._semaphore.release()


class SignatureChecker:
    """Verifies detached CMS signatures against the trust list. Build one per process at
    start-up and :meth:`close` it at shutdown (it owns the pool).

    The constructor loads the algorithm plug-ins and the profiles settings name: a name that
    does not exist stops start-up with one line (``PluginError``)."""

    def __init__(
        self,
        settings: SignaturesSettings,
        *,
        trust: TrustSource,
        revocation: RevocationSource,
        clock: Clock,
        dev_mode: bool = False,
    ) -> None:
        load_algorithms(settings.algorithms)
        profiles_named(settings.profiles)
        self._settings = settings
        self._trust = trust
        self._revocation = revocation
        self._clock = clock
        self._dev_mode = dev_mode
        self._options = Options(
            algorithms=tuple(settings.algorithms),
            profiles=tuple(settings.profiles),
            max_bytes=settings.max_signature_bytes,
            require_revocation=settings.revocation_unavailable == "refuse",
        )
        self._places = asyncio.Semaphore(settings.max_in_flight or 2 * pool_workers(settings))
        self._pool = make_pool(settings)
        self._rebuilding = asyncio.Lock()
        self._watchdogs: set[asyncio.Task[None]] = set()  # rebuilds under way (kept referenced)
        self.rebuilds = 0  # how many times a broken pool was replaced (tests, metrics)

    async def verify(
        self,
        signature: bytes | str,
        content: bytes,
        *,
        certificates: Sequence[bytes] = (),
        signed_after: datetime,
        signed_before: datetime,
    ) -> Verification:
        """Whether ``signature`` (base64, PEM or DER detached CMS) signs ``content`` with a
        qualified certificate trusted now, and who it names. Never raises on bad input: a
        refusal is a Verification with its Reason. Raises :class:`VerificationUnavailable`
        when it could not judge (busy, out of time, a broken pool, a fault)."""
        if not isinstance(signature, (bytes, str)) or not isinstance(content, bytes):
            return Verification.refused(Reason.MALFORMED, "the signature is not text or bytes")
        try:
            given = tuple(bytes(c) for c in certificates)
        except TypeError:
            return Verification.refused(Reason.MALFORMED, "a certificate that is not bytes")
        if len(signature) > self._options.max_bytes * 2 or sum(map(len, given)) > (
            self._options.max_bytes
        ):
            return Verification.refused(Reason.MALFORMED, "too big")
        try:
            async with asyncio.timeout(QUEUE_WAIT):
                await self._places.acquire()
        except TimeoutError:
            raise VerificationUnavailable(
                "too many signature verifications in flight", RETRY_AFTER, spent=False
            ) from None
        place = _Place(self._places)
        timeout = self._settings.verify_timeout
        try:
            async with asyncio.timeout(timeout):
                return await self._verify(
                    place, signature, content, given, signed_after, signed_before
                )
        except TimeoutError:
            # Spent even if no step finished: the pool or a fetch had the time.
            raise VerificationUnavailable(
                f"the verification took more than {timeout:g} s", RETRY_AFTER, spent=True
            ) from None
        except RevocationBusy:
            # The process had no fetch slot in time: nothing was learnt about the
            # certificate's status, so the signature is not judged ("revocation_unavailable"
            # would refuse it for the server's own load).
            raise VerificationUnavailable(
                "revocation fetches are saturated in this process", RETRY_AFTER, spent=True
            ) from None
        finally:
            place.leave()

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _verify(
        self,
        place: _Place,
        signature: bytes | str,
        content: bytes,
        given: tuple[bytes, ...],
        signed_after: datetime,
        signed_before: datetime,
    ) -> Verification:
        try:
            anchors = tuple(await self._trust.anchors())
        except Exception as failure:
            logger.error("trust list unavailable: %s", type(failure).__name__)
            raise VerificationUnavailable(
                "the trust list is unavailable", RETRY_AFTER, spent=False
            ) from None
        request = Request(
            signature=signature,
            content=content,
            certificates=given,
            signed_after=signed_after,
            signed_before=signed_before,
            anchors=anchors,
            now=self._clock.now(),
            options=self._options,
        )
        first: Verification | Prepared = await self._run(place, prepare, request)
        if not isinstance(first, Prepared):
            return first
        answers = await self._fetch(first.needs)
        refusal: Verification | None = None
        for _ in range(_MAX_FALLBACKS + 1):
            # The path is judged at the time the answers came, not when the verification
            # began: a responder signs a fresh answer (thisUpdate: now), which must not lie in
            # the future of the moment it is checked at, however long the first step waited.
            crls, ocsps = _bodies(answers)
            result: Verification | ShortOf = await self._run(
                place, conclude, first, crls, ocsps, self._clock.now()
            )
            if not isinstance(result, ShortOf):
                return result
            refusal = result.verification
            if not await self._fall_back(first.needs, answers, result.certificates):
                break
        assert refusal is not None
        return refusal

    async def _run(self, place: _Place, step: Callable[..., T | Unavailable], *args: Any) -> T:
        """``step`` in the pool. A pool found broken (a worker was killed) is rebuilt once and
        the step sent again; broken again, or a step that failed, is VerificationUnavailable."""
        for attempt in (1, 2):
            pool = self._pool
            try:
                future: Future[T | Unavailable] = pool.submit(step, *args)
                place.track(future)
                self._watch(pool, future, place)
                result = await asyncio.wrap_future(future)
            except BrokenExecutor:
                if attempt == 2:
                    break
                await self._rebuild(pool)
                continue
            place.worked = True
            if isinstance(result, Unavailable):
                raise VerificationUnavailable(result.detail, RETRY_AFTER, spent=True)
            return result
        raise VerificationUnavailable(
            "the verification pool is broken", RETRY_AFTER, spent=place.worked
        )

    def _watch(self, pool: Executor, future: Future[Any], place: _Place) -> None:
        """Past ``verify_timeout`` + ``WATCHDOG_MARGIN`` with ``future`` not finished, the pool
        is taken for hung: it is replaced (once, whichever of its steps is found first) and
        the place given back."""
        loop = asyncio.get_running_loop()
        delay = self._settings.verify_timeout + WATCHDOG_MARGIN

        def overdue() -> None:
            if future.done():
                return
            task = loop.create_task(self._rebuild(pool, hung=True))
            self._watchdogs.add(task)
            task.add_done_callback(self._watchdogs.discard)
            place.abandon()

        handle = loop.call_later(delay, overdue)
        future.add_done_callback(lambda _: _cancel_soon(loop, handle))

    async def _rebuild(self, broken: Executor, *, hung: bool = False) -> None:
        async with self._rebuilding:
            if self._pool is not broken:
                return  # another verification rebuilt it meanwhile
            if hung:
                logger.error("signature verification pool hung (a step overdue); replacing it")
            else:
                logger.error("signature verification pool broken (a worker died); rebuilding it")
            self._pool = make_pool(self._settings)
            self.rebuilds += 1
            _abandon(broken)

    async def _fetch(self, needs: Sequence[RevocationNeed]) -> dict[bytes, _Answer]:
        found = await _all(self._status(need) for need in needs)
        return {need.certificate: answer for need, answer in zip(needs, found, strict=True)}

    async def _status(self, need: RevocationNeed) -> _Answer:
        """One certificate's revocation information: OCSP when it names a responder, else (or
        when that fails) its CRL. Nothing found is not an error here: the path's validation
        then says ``revocation_unavailable``."""
        for url in need.ocsp_urls[:MAX_URLS_PER_KIND]:
            try:
                return _Answer(
                    "ocsp", url, await self._revocation.ocsp(url, need.certificate, need.issuer)
                )
            except RevocationBusy:
                raise  # the process's load, not the responder's answer: not judged
            except RevocationUnavailable as failure:
                logger.info("OCSP unavailable: %s", failure)
            except Exception as failure:  # a source's own bug must not end the request
                logger.warning("OCSP source failed: %s", type(failure).__name__)
        return await self._crl(need)

    async def _crl(self, need: RevocationNeed) -> _Answer:
        for url in need.crl_urls[:MAX_URLS_PER_KIND]:
            try:
                return _Answer("crl", url, await self._revocation.crl(url), tried_crl=True)
            except RevocationBusy:
                raise
            except RevocationUnavailable as failure:
                logger.info("CRL unavailable: %s", failure)
            except Exception as failure:
                logger.warning("CRL source failed: %s", type(failure).__name__)
        return _Answer("none", "", b"", tried_crl=True)

    async def _fall_back(
        self,
        needs: Sequence[RevocationNeed],
        answers: dict[bytes, _Answer],
        unsettled: tuple[bytes, ...],
    ) -> bool:
        """After a validation the answers did not settle: forget the answers it rejected (so
        they are not served from the cache again) and fetch the CRL of each certificate whose
        OCSP answer did not do. Whether anything new was fetched to try again with."""
        forgetting = (
            self._revocation if isinstance(self._revocation, ForgettingRevocationSource) else None
        )
        targets = [need for need in needs if need.certificate in set(unsettled)]
        retry = [need for need in targets if not answers[need.certificate].tried_crl]
        for need in targets:
            answer = answers[need.certificate]
            if forgetting is not None and answer.kind == "ocsp":
                forgetting.invalidate_ocsp(answer.url, need.certificate, need.issuer)
            elif forgetting is not None and answer.kind == "crl" and not retry:
                forgetting.invalidate(answer.url)
        if not retry:
            return False
        fetched = await _all(self._crl(need) for need in retry)
        for need, answer in zip(retry, fetched, strict=True):
            answers[need.certificate] = answer
        return any(answer.kind == "crl" for answer in fetched)


async def _all(fetches: Iterable[Coroutine[Any, Any, _Answer]]) -> list[_Answer]:
    """Every fetch's answer, in order. The first :class:`RevocationBusy` cancels the others
    (their answers would not be used) and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(fetch) for fetch in fetches]
    except* RevocationBusy as busy:
        raise busy.exceptions[0] from None
    return [task.result() for task in tasks]


def _cancel_soon(loop: asyncio.AbstractEventLoop, handle: asyncio.TimerHandle) -> None:
    # Called from the pool's thread: the timer belongs to the loop's.
    with contextlib.suppress(RuntimeError):  # a closed loop: no timer left to cancel
        loop.call_soon_threadsafe(handle.cancel)


def _abandon(pool: Executor) -> None:
    """Shut ``pool`` down without waiting, its queued steps cancelled and, for processes, its
    workers killed: a stopped or stuck worker never ends on its own, and killing it fails its
    step (BrokenProcessPool), which gives that step's place back."""
    processes = dict(getattr(pool, "_processes", None) or {})  # CPython's, read before shutdown
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes.values():
        with contextlib.suppress(Exception):  # already gone
            process.kill()


def _bodies(answers: dict[bytes, _Answer]) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    crls = tuple(dict.fromkeys(a.body for a in answers.values() if a.kind == "crl" and a.body))
    ocsps = tuple(dict.fromkeys(a.body for a in answers.values() if a.kind == "ocsp" and a.body))
    return crls, ocsps
