"""An in-memory verifier for tests: answers from a table, in this process only.

``answers`` maps a key to a verdict: the SNILS for a person, ``series+number`` for a document,
the INN for a tax check; anything else gets ``default``. ``pending_polls`` makes the first that
many ``answer`` calls say ``pending``; ``down`` makes every call raise ``RegistryUnavailable``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from idp.levels.verifiers.protocol import (
    Answer,
    CheckKind,
    DocumentQuery,
    InnQuery,
    PersonQuery,
    Query,
    RegistryUnavailable,
    Verdict,
    VerifierSetup,
)
from idp.plugins import PluginMisconfigured


class MemoryOptions(BaseModel):
    default: Verdict = Verdict.MATCH
    answers: dict[str, Verdict] = {}
    mismatched_fields: list[str] = ["last_name"]
    pending_polls: int = 0


@dataclass
class _Request:
    kind: CheckKind
    query: Query
    answer: Answer
    polls: int = 0
    acknowledged: bool = False


@dataclass
class MemoryVerifier:
    options: MemoryOptions = field(default_factory=MemoryOptions)
    requests: dict[str, _Request] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    submits: int = 0
    down: bool = False  # every call raises RegistryUnavailable, as in an outage
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def submit_person(self, query: PersonQuery, *, idempotency_key: str) -> str:
        return self._submit(CheckKind.PERSON, query, query.snils, idempotency_key)

    async def submit_document(self, query: DocumentQuery, *, idempotency_key: str) -> str:
        return self._submit(
            CheckKind.DOCUMENT, query, (query.series or "") + query.number, idempotency_key
        )

    async def submit_inn(self, query: InnQuery, *, idempotency_key: str) -> str:
        return self._submit(CheckKind.INN, query, query.inn, idempotency_key)

    async def answer(self, kind: CheckKind, reference: str) -> Answer:
        self._reachable()
        request = self.requests.get(reference)
        if request is None or request.kind is not kind:
            return Answer(Verdict.UNKNOWN)
        request.polls += 1
        if request.polls <= self.options.pending_polls:
            return Answer(Verdict.PENDING)
        return request.answer

    async def acknowledge(self, kind: CheckKind, reference: str) -> None:
        self._reachable()
        request = self.requests.get(reference)
        if request is not None:
            request.acknowledged = True

    async def close(self) -> None:
        return None

    def _reachable(self) -> None:
        if self.down:
            raise RegistryUnavailable("the registry is down (memory verifier)")

    def _submit(self, kind: CheckKind, query: Query, key: str, idempotency_key: str) -> str:
        self._reachable()
        known = self.by_key.get(idempotency_key)
        if known is not None:
            return known
        self.submits += 1
        verdict = self.options.answers.get(key, self.options.default)
        fields = tuple(self.options.mismatched_fields) if verdict is Verdict.MISMATCH else ()
        reference = f"mem-{kind.value}-{next(self._ids)}"
        self.requests[reference] = _Request(kind, query, Answer(verdict, fields))
        self.by_key[idempotency_key] = reference
        return reference


def build(setup: VerifierSetup) -> MemoryVerifier:
    try:
        options = MemoryOptions.model_validate(dict(setup.options))
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PluginMisconfigured("verifier", setup.name, reason) from exc
    return MemoryVerifier(options)
