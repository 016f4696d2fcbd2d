"""The simulator's registries in memory: seeds, requests by reference and idempotency key, the
injected faults (latency, failure rate, outage windows) and the statistics tests read.

No HTTP here (``app.py`` serves it). Every change of state happens under one lock with no
``await`` inside, so concurrent requests, on one event loop or several threads, never see half
an update: two submits with one idempotency key create one request.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

REGISTRIES = ("person", "document", "inn")
PERSON_FIELDS = ("last_name", "first_name", "middle_name", "sex", "birth_date")
DOCUMENT_FIELDS = ("last_name", "first_name", "middle_name", "birth_date", "issued_on")
INN_FIELDS = ("last_name", "first_name", "middle_name", "birth_date")
STATUSES = frozenset(
    {"match", "mismatch", "document_invalid", "document_lost", "deceased", "unknown"}
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulator behaves; everything but the seeds can change at run time
    (``PUT /admin/config``)."""

    latency: float = 0.0  # seconds after a submit before the answer stops being pending
    failure_rate: float = 0.0  # share of registry calls answered 503
    response_delay: float = 0.0  # seconds every registry call waits before it answers
    outages: tuple[tuple[float, float], ...] = ()  # (start, end) seconds after the app starts
    accept_unknown: bool = True  # data not in the seeds matches (else: unknown)
    retry_after: int = 1  # the Retry-After of an injected failure
    seed_file: Path | None = None  # None: the bundled seed.json
    random_seed: int | None = None  # a fixed seed makes the failures repeatable
    # Requests kept at most: a new one then forgets the oldest acknowledged request, or, with
    # none acknowledged, is refused (503) until some are.
    max_requests: int = 100_000


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class Request:
    registry: str
    key: str  # the idempotency key it was made under
    verdict: Verdict
    submitted_at: float
    acknowledged: bool = False


@dataclass
class Stats:
    submits: Counter[str] = field(default_factory=Counter)  # new requests per registry
    by_key: Counter[str] = field(default_factory=Counter)  # submit calls per idempotency key
    polls: int = 0
    acks: int = 0
    failures: int = 0  # calls answered 503 (injected failure or outage)

    def as_json(self) -> dict[str, Any]:
        return {
            "submits": {registry: self.submits[registry] for registry in REGISTRIES},
            "by_key": dict(self.by_key),
            "polls": self.polls,
            "acks": self.acks,
            "failures": self.failures,
        }


def load_seeds(path: Path | None) -> dict[str, dict[str, dict[str, Any]]]:
    if path is None:
        text = resources.files("idp.levels.simulator").joinpath("seed.json").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("the seed file is not a JSON object")
    seeds: dict[str, dict[str, dict[str, Any]]] = {}
    for registry in REGISTRIES:
        entries = raw.get(registry, {})
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise ValueError(f"the seed file's {registry!r} is not an object of objects")
        for key, entry in entries.items():
            status = entry.get("status")
            if status is not None and status not in STATUSES:
                raise ValueError(f"the seed file's {registry} {key!r} has status {status!r}")
        seeds[registry] = entries
    return seeds


def _same(asked: Any, seeded: Any) -> bool:
    def norm(value: Any) -> str:
        return "" if value is None else str(value).strip().casefold().replace("ё", "е")

    return norm(asked) == norm(seeded)


def decide(
    seeds: Mapping[str, Mapping[str, Mapping[str, Any]]],
    registry: str,
    query: Mapping[str, Any],
    accept_unknown: bool,
) -> Verdict:
    """What the registry answers for ``query``: a seeded status, a field-by-field comparison
    with a seeded holder, or (not seeded) a match or unknown."""
    compared: tuple[str, ...]
    if registry == "person":
        key, compared = str(query["snils"]), PERSON_FIELDS
    elif registry == "document":
        key, compared = (query.get("series") or "") + str(query["number"]), DOCUMENT_FIELDS
    else:
        key, compared = str(query["inn"]), INN_FIELDS
    entry = seeds.get(registry, {}).get(key)
    if entry is None:
        return Verdict("match" if accept_unknown else "unknown")
    if "status" in entry:
        return Verdict(str(entry["status"]), tuple(entry.get("fields", ())))
    wrong = tuple(f for f in compared if f in entry and not _same(query.get(f), entry[f]))
    return Verdict("mismatch", wrong) if wrong else Verdict("match")


class Full(Exception):
    """The simulator holds ``max_requests`` requests, none of them acknowledged."""


class Unavailable(Exception):
    """The call is answered 503 with ``Retry-After: retry_after``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"unavailable, retry after {retry_after} s")
        self.retry_after = retry_after


class Simulator:
    def __init__(self, config: SimulatorConfig, now: Callable[[], float] = time.monotonic) -> None:
        self.initial = config
        self.now = now
        self.seeds = load_seeds(config.seed_file)
        self._lock = threading.Lock()
        self._started = now()
        self._random = random.Random(config.random_seed)  # noqa: S311 - fault injection
        self.reset()

    # --- admin -----------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.config = self.initial
            self._outages = [(self._started + a, self._started + b) for a, b in self.config.outages]
            self.requests: dict[str, Request] = {}
            self._by_key: dict[tuple[str, str], str] = {}
            self._acknowledged: deque[str] = deque()  # references, oldest acknowledged first
            self.stats = Stats()

    def configure(self, changes: Mapping[str, Any]) -> None:
        """Apply ``PUT /admin/config``: any of latency, failure_rate, response_delay,
        accept_unknown, retry_after and outage_seconds (an outage from now on; null ends
        any outage)."""
        with self._lock:
            updates = {k: v for k, v in changes.items() if k != "outage_seconds"}
            self.config = replace(self.config, **updates)
            if "outage_seconds" in changes:
                seconds = changes["outage_seconds"]
                now = self.now()
                self._outages = [] if seconds is None else [(now, now + float(seconds))]

    def outage_left(self) -> float | None:
        """Seconds until the current outage ends; None when the registries are up."""
        with self._lock:
            now = self.now()
            left = [end - now for start, end in self._outages if start <= now < end]
            return round(max(left), 3) if left else None

    def stats_json(self) -> dict[str, Any]:
        with self._lock:
            return self.stats.as_json()

    # --- the registries --------------------------------------------------------------------

    def admit(self) -> None:
        """Raise :class:`Unavailable` during an outage or for an injected failure."""
        with self._lock:
            now = self.now()
            for start, end in self._outages:
                if start <= now < end:
                    self.stats.failures += 1
                    raise Unavailable(max(1, math.ceil(end - now)))
            if self.config.failure_rate > 0 and self._random.random() < self.config.failure_rate:
                self.stats.failures += 1
                raise Unavailable(self.config.retry_after)

    def submit(self, registry: str, key: str, query: Mapping[str, Any]) -> tuple[str, bool]:
        """The reference for this idempotency key, and whether this call created it."""
        with self._lock:
            self.stats.by_key[key] += 1
            known = self._by_key.get((registry, key))
            if known is not None:
                return known, False
            if len(self.requests) >= self.config.max_requests:
                self._forget_oldest_acknowledged()
            verdict = decide(self.seeds, registry, query, self.config.accept_unknown)
            reference = f"{registry}-{uuid.uuid4().hex}"
            self.requests[reference] = Request(registry, key, verdict, self.now())
            self._by_key[(registry, key)] = reference
            self.stats.submits[registry] += 1
            return reference, True

    def answer(self, registry: str, reference: str) -> Verdict | None:
        """The verdict, ``pending`` until the latency has passed; None for an unknown
        reference."""
        with self._lock:
            request = self.requests.get(reference)
            if request is None or request.registry != registry:
                return None
            self.stats.polls += 1
            if self.now() < request.submitted_at + self.config.latency:
                return Verdict("pending")
            return request.verdict

    def acknowledge(self, registry: str, reference: str) -> bool:
        with self._lock:
            request = self.requests.get(reference)
            if request is None or request.registry != registry:
                return False
            # Kept, not forgotten: a worker that dies after the ack may ask again (until
            # max_requests pushes it out).
            if not request.acknowledged:
                self._acknowledged.append(reference)
            request.acknowledged = True
            self.stats.acks += 1
            return True

    def _forget_oldest_acknowledged(self) -> None:
        """Under the lock: make room for one request, or raise :class:`Full`."""
        if not self._acknowledged:
            raise Full
        reference = self._acknowledged.popleft()
        request = self.requests.pop(reference)
        self._by_key.pop((request.registry, request.key), None)
