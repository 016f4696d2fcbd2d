"""Benchmark: qualified e-signature verification (``idp.signatures.SignatureChecker``).

For RSA-2048, ECDSA P-256, GOST 256 and GOST 512 signatures (a person's certificate under an
intermediate CA under a root, both with CRL and OCSP pointers, FSB order 795 profile):

1. **Warm throughput**: verifications per second with `--concurrency` in flight, the pool sized
   to the cores (`--pool process`, one worker per core unless `--workers`), the revocation
   answers already in the fetcher's cache (a real ``RevocationFetcher``), for `--seconds`.
   Also the median and 95th percentile latency of one verification under that load.
2. **Cold latency**: one verification alone with a fresh fetcher (empty cache: two OCSP
   requests, the person's and the intermediate's, each signed by the responder on the spot),
   repeated `--cold-runs` times; the median and the range.

The CRL/OCSP responder is the test PKI's (tests/support/pki.py), started by the bench on a
loopback port in a thread of this process.

    .venv/bin/python bench/signatures.py --seconds 20 --concurrency 8 --cold-runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from idp.clock import SystemClock
from idp.settings import SignaturesSettings
from idp.signatures.checker import SignatureChecker
from idp.signatures.dev import pki
from idp.signatures.protocol import TrustedCA
from idp.signatures.revocation.fetcher import RevocationFetcher

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support when run as bench/signatures.py

from tests.support.live import LiveServer, free_port  # noqa: E402
from tests.support.pki import TestPki  # noqa: E402

CONTENT = b"confirm|bench|7f3e0c2a9b4d4e61"
ALGOS: tuple[pki.KeyAlgo, ...] = ("rsa2048", "p256", "gost256", "gost512")
NAMES = {"rsa2048": "RSA-2048", "p256": "ECDSA P-256", "gost256": "GOST 256", "gost512": "GOST 512"}


class Trust:
    def __init__(self, anchors: tuple[TrustedCA, ...]) -> None:
        self.list = anchors

    async def anchors(self) -> tuple[TrustedCA, ...]:
        return self.list


class FreshEachTime:
    """A RevocationSource handing over to the fetcher set last: a cold cache for each run
    while the checker (and its warm pool) stays."""

    def __init__(self, fetcher: RevocationFetcher) -> None:
        self.fetcher = fetcher

    async def crl(self, url: str) -> bytes:
        return await self.fetcher.crl(url)

    async def ocsp(self, url: str, certificate: bytes, issuer: bytes) -> bytes:
        return await self.fetcher.ocsp(url, certificate, issuer)


def make_checker(
    anchors: tuple[TrustedCA, ...],
    fetcher: RevocationFetcher | FreshEachTime,
    pool: Literal["process", "thread"],
    workers: int,
    in_flight: int = 0,
) -> SignatureChecker:
    # Every verification the bench puts in flight gets a place and all the time it needs: the
    # bench measures the work and the queueing, not the checker's "come back later".
    settings = SignaturesSettings(
        pool=pool, pool_size=workers, max_in_flight=in_flight, verify_timeout=600
    )
    return SignatureChecker(settings, trust=Trust(anchors), revocation=fetcher, clock=SystemClock())


async def verify(checker: SignatureChecker, signature: bytes) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    result = await checker.verify(
        signature,
        CONTENT,
        signed_after=now - timedelta(minutes=5),
        signed_before=now + timedelta(minutes=5),
    )
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"the bench's signature was refused: {result.reason} {result.detail}")
    return elapsed


async def warm(
    checker: SignatureChecker, signature: bytes, seconds: float, concurrency: int
) -> dict[str, float]:
    # Warm-up: every worker has loaded the plug-ins and the cache holds the answers.
    await asyncio.gather(*(verify(checker, signature) for _ in range(concurrency * 2)))
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def lane() -> None:
        while time.perf_counter() < deadline:
            latencies.append(await verify(checker, signature))

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "count": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
    }


async def cold(
    anchors: tuple[TrustedCA, ...],
    signature: bytes,
    runs: int,
    pool: Literal["process", "thread"],
    workers: int,
) -> list[float]:
    """One verification at a time, each with a fresh fetcher; the pool is warmed first (its
    start-up is not what is measured)."""
    source = FreshEachTime(RevocationFetcher(SignaturesSettings(), allow_private=True))
    checker = make_checker(anchors, source, pool, workers)
    times = []
    try:
        await verify(checker, signature)
        for _ in range(runs):
            await source.fetcher.aclose()
            source.fetcher = RevocationFetcher(SignaturesSettings(), allow_private=True)
            times.append(await verify(checker, signature))
    finally:
        await checker.close()
        await source.fetcher.aclose()
    return times


async def main(args: argparse.Namespace) -> None:
    workers = args.workers or os.cpu_count() or 1
    port = free_port()
    test_pki = TestPki(f"http://127.0.0.1:{port}")
    live = LiveServer(test_pki.app, port).start()
    rows = []
    try:
        for algo in args.algos:
            person = test_pki.person(algo)
            signature = test_pki.sign(CONTENT, person)
            fetcher = RevocationFetcher(SignaturesSettings(), allow_private=True)
            checker = make_checker(
                test_pki.anchors, fetcher, args.pool, workers, in_flight=args.concurrency
            )
            try:
                hot = await warm(checker, signature, args.seconds, args.concurrency)
            finally:
                await checker.close()
                await fetcher.aclose()
            cold_times = await cold(test_pki.anchors, signature, args.cold_runs, args.pool, workers)
            rows.append((algo, hot, cold_times))
            print(f"# {NAMES[algo]} done", file=sys.stderr, flush=True)
    finally:
        live.stop()

    print(
        f"pool: {args.pool}, {workers} workers; {args.concurrency} in flight; "
        f"{args.seconds:g} s per algorithm; cold: {args.cold_runs} runs\n"
    )
    print(
        "| Algorithm | Verifications/s (warm cache) | p50 latency (warm) | p95 latency (warm) "
        "| Cold cache: one verification, median (min–max) |"
    )
    print("|---|---:|---:|---:|---:|")
    for algo, hot, cold_times in rows:
        print(
            f"| {NAMES[algo]} | {hot['per_second']:.1f} ({int(hot['count'])} in "
            f"{args.seconds:g} s) | {hot['p50'] * 1000:.0f} ms | {hot['p95'] * 1000:.0f} ms "
            f"| {statistics.median(cold_times) * 1000:.0f} ms "
            f"({min(cold_times) * 1000:.0f}–{max(cold_times) * 1000:.0f}) |"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="warm run per algorithm")
    parser.add_argument("--concurrency", type=int, default=8, help="verifications in flight")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--pool", choices=["process", "thread"], default="process")
    parser.add_argument("--workers", type=int, default=0, help="pool size; 0: one per core")
    parser.add_argument("--algos", nargs="+", choices=ALGOS, default=list(ALGOS))
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
