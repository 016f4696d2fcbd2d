"""What a registry verifier implements, one ``typing.Protocol`` per kind of registry.

Inter-agency exchange is asynchronous: ``submit`` hands a request over and returns the
registry's reference for it; the answer comes later, read with ``answer`` (``PENDING`` until the
registry has decided); once the answer is recorded, ``acknowledge`` tells the registry it may
forget it. A verifier is a plug-in (``idp.plugins``): a factory registered under a name in the
entry point group ``idp.verifiers`` takes a :class:`VerifierSetup` and returns an object with the
methods of the kinds it serves (one adapter may serve all three). ``idp.levels.verifiers.contract``
is the test suite every verifier must pass.

Every method may be called again for the same request (a worker killed mid-check is replaced):
``submit`` with the same ``idempotency_key`` returns the same reference, ``answer`` repeats
itself, ``acknowledge`` of an acknowledged or unknown reference is not an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from idp.clock import Clock


class CheckKind(StrEnum):
    PERSON = "person"  # the pension fund: full name, SNILS, sex and birth date belong together
    DOCUMENT = "document"  # the interior ministry: the identity document is valid
    INN = "inn"  # the tax service: the INN is this person's


class Verdict(StrEnum):
    PENDING = "pending"  # not decided yet: ask again later
    MATCH = "match"
    MISMATCH = "mismatch"  # ``Answer.fields`` names what does not match
    DOCUMENT_INVALID = "document_invalid"  # expired, replaced or never issued
    DOCUMENT_LOST = "document_lost"  # reported lost or stolen
    DECEASED = "deceased"
    UNKNOWN = "unknown"  # the registry has no such person, document or INN


@dataclass(frozen=True, slots=True)
class PersonQuery:
    """The pension fund's question: do these belong together?"""

    snils: str  # 11 digits
    last_name: str
    first_name: str
    middle_name: str | None
    sex: str  # male | female
    birth_date: date


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """The interior ministry's question: is this identity document valid, and this person's?"""

    kind: str  # ru_passport | foreign_passport
    series: str | None  # 4 digits for a Russian passport
    number: str
    issued_on: date
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date
    citizenship: str  # ISO 3166-1 alpha-3


@dataclass(frozen=True, slots=True)
class InnQuery:
    """The tax service's question: is this INN this person's?"""

    inn: str  # 12 digits
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date
    document_series: str | None
    document_number: str


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: Verdict
    # For MISMATCH: the query's field names that do not match (never their values).
    fields: tuple[str, ...] = ()

    @property
    def settled(self) -> bool:
        return self.verdict is not Verdict.PENDING


class RegistryUnavailable(Exception):
    """The registry could not be reached or refused for now (timeout, 5xx, outage): the try is
    retried later. The message is shown to operators: never personal data, never a secret."""


class RequestRejected(Exception):
    """The registry refuses the request for good (malformed, unauthorised): retrying is useless.
    The message is shown to operators: never personal data, never a secret."""


@runtime_checkable
class PersonRegistry(Protocol):
    async def submit_person(self, query: PersonQuery, *, idempotency_key: str) -> str: ...

    async def answer(self, kind: CheckKind, reference: str) -> Answer: ...

    async def acknowledge(self, kind: CheckKind, reference: str) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class DocumentRegistry(Protocol):
    async def submit_document(self, query: DocumentQuery, *, idempotency_key: str) -> str: ...

    async def answer(self, kind: CheckKind, reference: str) -> Answer: ...

    async def acknowledge(self, kind: CheckKind, reference: str) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class TaxRegistry(Protocol):
    async def submit_inn(self, query: InnQuery, *, idempotency_key: str) -> str: ...

    async def answer(self, kind: CheckKind, reference: str) -> Answer: ...

    async def acknowledge(self, kind: CheckKind, reference: str) -> None: ...

    async def close(self) -> None: ...


Query = PersonQuery | DocumentQuery | InnQuery
Verifier = PersonRegistry | DocumentRegistry | TaxRegistry


async def submit(verifier: object, query: Query, *, idempotency_key: str) -> str:
    """Hand ``query`` to the method of its kind (the verifier serves that kind: checked when
    the verifiers are built)."""
    if isinstance(query, PersonQuery):
        assert isinstance(verifier, PersonRegistry)
        return await verifier.submit_person(query, idempotency_key=idempotency_key)
    if isinstance(query, DocumentQuery):
        assert isinstance(verifier, DocumentRegistry)
        return await verifier.submit_document(query, idempotency_key=idempotency_key)
    assert isinstance(verifier, TaxRegistry)
    return await verifier.submit_inn(query, idempotency_key=idempotency_key)


QUERY_FIELDS: Mapping[CheckKind, frozenset[str]] = {
    kind: frozenset(f.name for f in fields(query))
    for kind, query in (
        (CheckKind.PERSON, PersonQuery),
        (CheckKind.DOCUMENT, DocumentQuery),
        (CheckKind.INN, InnQuery),
    )
}


def known_fields(kind: CheckKind, names: Iterable[object]) -> tuple[str, ...]:
    """The names in ``names`` that are fields of ``kind``'s query, each once, in order: what a
    registry may say does not match. Anything else (a hostile gateway's text) is dropped."""
    known = QUERY_FIELDS[kind]
    return tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n in known))


SERVES: Mapping[CheckKind, type] = {
    CheckKind.PERSON: PersonRegistry,
    CheckKind.DOCUMENT: DocumentRegistry,
    CheckKind.INN: TaxRegistry,
}


@dataclass(frozen=True, slots=True)
class VerifierSetup:
    """What a verifier factory receives: its name, its own settings section and the clock.

    ``options`` is the plug-in's section (``IDP_REGISTRIES__PLUGINS__<NAME>__…``; for the
    built-in ``http`` adapter, ``IDP_REGISTRIES__HTTP__…``); the factory validates it,
    typically with a pydantic model, and raises ``PluginMisconfigured`` when it cannot work.
    ``kinds`` are the registry kinds this instance will be asked to serve.
    """

    name: str
    kinds: frozenset[CheckKind]
    options: Mapping[str, Any] = field(default_factory=dict)
    clock: Clock | None = None
