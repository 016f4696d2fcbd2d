"""What the "My data" page shows, in the page's language: the form's values and field errors,
the citizenship list, and the progress (the level, each check of the current revision, why
no check can run, the level history)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from idp.levels.personal_data.validation import DOCUMENT_KINDS, FIELDS, RU_PASSPORT, RUSSIA
from idp.web.i18n import Translator

# ISO 3166-1 alpha-3; Russia first, the rest sorted by their name in the page's language.
_CODES = (
    "RUS AFG ARG ARM AUS AUT AZE BEL BGR BLR BRA CAN CHE CHN CUB CZE DEU EGY ESP EST FIN FRA GBR "
    "GEO GRC IDN IND IRN ISR ITA JPN KAZ KGZ KOR LTU LVA MDA MNG NGA NLD NOR PAK POL PRK SRB SWE "
    "SYR THA TJK TKM TUR UKR USA UZB VEN VNM ZAF"
)
COUNTRIES = tuple(_CODES.split())
OPEN_STATES = ("queued", "sent", "waiting")
KIND_ORDER = ("person", "document", "inn")
# The field names a registry's mismatch lists, as the page labels them.
_FIELD_LABELS = {
    "last_name": "last_name_field",
    "first_name": "first_name_field",
    "middle_name": "my_data_middle_name",
}


def countries(t: Translator) -> list[tuple[str, str]]:
    named = [(code, t(f"country_{code}")) for code in COUNTRIES[1:]]
    return [(RUSSIA, t(f"country_{RUSSIA}")), *sorted(named, key=lambda item: item[1])]


def document_kinds(t: Translator) -> list[tuple[str, str]]:
    return [(kind, t(f"my_data_document_kind_{kind}")) for kind in DOCUMENT_KINDS]


def field_label(t: Translator, field: str) -> str:
    return t(_FIELD_LABELS.get(field, f"my_data_{field}"))


def posted_values(form: Mapping[str, str]) -> dict[str, str]:
    """The fields as posted (kept on the page when something is refused)."""
    return {name: form.get(name, "") for name in FIELDS}


def shown_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return str(value)


def stored_values(data: object | None, names: tuple[str, str, str | None]) -> dict[str, str]:
    """The saved data as the form shows it; before the first save, the account's names and
    Russian citizenship with a Russian passport."""
    last, first, middle = names
    values = dict.fromkeys(FIELDS, "")
    values.update(
        last_name=last,
        first_name=first,
        middle_name=middle or "",
        citizenship=RUSSIA,
        document_kind=RU_PASSPORT,
    )
    if data is not None:
        for name in FIELDS:
            if hasattr(data, name):
                values[name] = shown_value(getattr(data, name))
        if len(values["snils"]) == 11 and values["snils"].isdigit():
            s = values["snils"]
            values["snils"] = f"{s[:3]}-{s[3:6]}-{s[6:9]} {s[9:]}"
    return values


def field_errors(t: Translator, errors: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The validation's ``{"field", "code"}`` errors as page texts, one per field, in the
    order of the form."""
    found: dict[str, str] = {}
    for error in errors:
        field, code = error.get("field", ""), error.get("code", "")
        if field in FIELDS and field not in found:
            key = f"my_data_code_{code}"
            found[field] = t(key) if t.has(key) else t("my_data_err_invalid")
    return {field: found[field] for field in FIELDS if field in found}


# --- the progress ---------------------------------------------------------------------------


class CheckRow(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def fields(self) -> Sequence[str]: ...


class ChangeRow(Protocol):
    @property
    def from_level(self) -> str: ...
    @property
    def to_level(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class CheckView:
    kind: str
    state: str
    reason: str | None
    fields: str | None  # the mismatched fields' labels, joined


@dataclass(frozen=True, slots=True)
class HistoryView:
    from_level: str
    to_level: str
    why: str  # the reason, as the page says it
    at: datetime


@dataclass(frozen=True, slots=True)
class ProgressView:
    level: str
    has_data: bool
    none_because: str | None
    checks: tuple[CheckView, ...]
    history: tuple[HistoryView, ...]

    @property
    def open(self) -> bool:
        return any(check.state in OPEN_STATES for check in self.checks)

    @property
    def failed(self) -> bool:
        return any(check.state == "failed" for check in self.checks)

    @property
    def all_succeeded(self) -> bool:
        return bool(self.checks) and all(check.state == "succeeded" for check in self.checks)


def why(t: Translator, reason: str) -> str:
    """A level change's reason in words; a reason added later shows as its code."""
    key = f"my_data_why_{reason}"
    return t(key) if t.has(key) else reason


def progress_view(
    t: Translator,
    *,
    level: str,
    has_data: bool,
    none_because: str | None,
    checks: Sequence[CheckRow],
    history: Sequence[ChangeRow],
) -> ProgressView:
    def order(check: CheckRow) -> int:
        return KIND_ORDER.index(check.kind) if check.kind in KIND_ORDER else len(KIND_ORDER)

    rows = tuple(
        CheckView(
            kind=check.kind,
            state=check.state,
            reason=check.reason,
            fields=", ".join(field_label(t, name) for name in check.fields) or None,
        )
        for check in sorted(checks, key=order)
    )
    changes = tuple(
        HistoryView(change.from_level, change.to_level, why(t, change.reason), change.at)
        for change in history
    )
    return ProgressView(level, has_data, none_because, rows, changes)
