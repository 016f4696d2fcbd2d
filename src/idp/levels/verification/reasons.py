"""The reason codes a registry check carries (``registry_checks.reason``): one list for the
handler, the REST API, the pages and the notifications. Every code has a title and an advice
text in ``idp/web/locales/<lang>/checks.json`` (``reason.<code>.title``, ``.advice``)."""

from __future__ import annotations

from idp.levels.verifiers.protocol import CheckKind, Verdict

# person (the pension fund)
PERSON_MISMATCH = "person_mismatch"  # ``fields`` names what differs
PERSON_UNKNOWN = "person_unknown"
PERSON_DECEASED = "person_deceased"
SNILS_TAKEN = "snils_taken"  # the SNILS was verified on another account meanwhile
# document (the interior ministry)
DOCUMENT_MISMATCH = "document_mismatch"
DOCUMENT_INVALID = "document_invalid"
DOCUMENT_LOST = "document_lost"
DOCUMENT_UNKNOWN = "document_unknown"
# inn (the tax service)
INN_MISMATCH = "inn_mismatch"
INN_UNKNOWN = "inn_unknown"
# any registry
REGISTRY_TIMEOUT = "registry_timeout"  # no answer within ``retry_period``
REGISTRY_REJECTED = "registry_rejected"  # the registry refused the request for good
# Not final: an open check waiting to be retried after the registry was unreachable.
REGISTRY_UNAVAILABLE = "registry_unavailable"

FINAL_REASONS = (
    PERSON_MISMATCH,
    PERSON_UNKNOWN,
    PERSON_DECEASED,
    SNILS_TAKEN,
    DOCUMENT_MISMATCH,
    DOCUMENT_INVALID,
    DOCUMENT_LOST,
    DOCUMENT_UNKNOWN,
    INN_MISMATCH,
    INN_UNKNOWN,
    REGISTRY_TIMEOUT,
    REGISTRY_REJECTED,
)
ALL_REASONS = (*FINAL_REASONS, REGISTRY_UNAVAILABLE)

_MISMATCH = {
    CheckKind.PERSON: PERSON_MISMATCH,
    CheckKind.DOCUMENT: DOCUMENT_MISMATCH,
    CheckKind.INN: INN_MISMATCH,
}
_UNKNOWN = {
    CheckKind.PERSON: PERSON_UNKNOWN,
    CheckKind.DOCUMENT: DOCUMENT_UNKNOWN,
    CheckKind.INN: INN_UNKNOWN,
}
_FIXED = {
    Verdict.DOCUMENT_INVALID: DOCUMENT_INVALID,
    Verdict.DOCUMENT_LOST: DOCUMENT_LOST,
    Verdict.DECEASED: PERSON_DECEASED,
}


def for_verdict(kind: CheckKind, verdict: Verdict) -> str | None:
    """The reason a settled verdict fails a check with; None for a match."""
    if verdict is Verdict.MATCH:
        return None
    if verdict is Verdict.MISMATCH:
        return _MISMATCH[kind]
    if verdict is Verdict.UNKNOWN:
        return _UNKNOWN[kind]
    if verdict in _FIXED:
        return _FIXED[verdict]
    raise ValueError(f"no reason for the verdict {verdict.value!r}")
