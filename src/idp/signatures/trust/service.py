"""Changing the trust list: adding one CA, importing a list, listing.

Every change runs in the caller's transaction and raises the ``trust`` cache generation first
(which also serialises concurrent changes), so every instance's ``TrustStore`` reloads within
``trust_recheck`` seconds. An import is idempotent: anchors are upserted by fingerprint (their
names and accreditation windows updated), and anchors the same source listed before but lists
no longer, or lists as withdrawn, are withdrawn (kept, never deleted). Imports and withdrawals
are audited. An anchor belongs to the source that listed it first: another source naming the
same CA changes nothing in it (reported as "listed by another source").

A list that names no CA at all is refused, and so is one that no longer names more than
``MAX_UNLISTED_SHARE`` of the CAs its source gives now, unless forced: an empty or truncated
download must not withdraw every anchor of its source at once. CAs a list explicitly marks
withdrawn do not count towards that share: withdrawing a CA its list says is withdrawn is
never held back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from idp.audit.log import record
from idp.db.models import TrustAnchor
from idp.errors import BadInput
from idp.signatures.trust import repository
from idp.signatures.trust.fetch import fetch_list, is_url
from idp.signatures.trust.formats import Entry, Parsed, Refusal, parse, read_path
from idp.signatures.trust.xmlsafe import UnreadableSource

Fetch = Callable[[str], Awaitable[bytes]]
SOURCE_LENGTH = 1024
MAX_UNLISTED_SHARE = 0.10  # of a source's live anchors an import may drop without --force
OTHER_SOURCE = "listed by another source"
BLOCKED = "blocked"
_HEX = frozenset("0123456789abcdef")


class TooManyUnlisted(BadInput):
    """The list no longer names too many of its source's CAs (a truncated download?);
    nothing was imported. Forcing the import withdraws them."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    source: str
    kind: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    refused: tuple[Refusal, ...] = field(default=())
    # Listed, counted unchanged, and left as they are: why (another source's CA, blocked).
    kept: tuple[Refusal, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "withdrawn": self.withdrawn,
            "refused": [{"entry": r.label, "reason": r.reason} for r in self.refused],
            "kept": [{"entry": k.label, "reason": k.reason} for k in self.kept],
        }


def source_name(source: str) -> str:
    """How a source is recorded: a URL as given, a path made absolute."""
    if is_url(source):
        return source[:SOURCE_LENGTH]
    return str(Path(source).expanduser().resolve())[:SOURCE_LENGTH]


async def read_source(source: str, *, fetch: Fetch = fetch_list) -> Parsed:
    """The CAs ``source`` lists (no database); ``UnreadableSource`` when it cannot be read."""
    if is_url(source):
        data = await fetch(source)
        return await asyncio.to_thread(parse, data)
    # File reads and XML parsing of a large list run off the event loop.
    return await asyncio.to_thread(read_path, Path(source))


async def import_source(
    session: AsyncSession,
    source: str,
    *,
    now: datetime,
    fetch: Fetch = fetch_list,
    force: bool = False,
) -> ImportReport:
    """Read ``source`` (file, directory or URL) and make the trust list agree with it.
    Raises ``UnreadableSource`` before writing anything when it cannot be read or names no CA,
    ``TooManyUnlisted`` (unless ``force``) when it drops too many of the source's CAs."""
    parsed = await read_source(source, fetch=fetch)
    return await import_parsed(session, parsed, source_name(source), now=now, force=force)


async def import_parsed(
    session: AsyncSession, parsed: Parsed, source: str, *, now: datetime, force: bool = False
) -> ImportReport:
    """The import of an already read list (``import_source``). Raises before any change it
    makes is visible; the caller's transaction then rolls the generation bump back."""
    if not parsed.entries:
        raise UnreadableSource("the list names no CA certificate; nothing was imported")
    await repository.bump_generation(session)  # first: it serialises imports
    listed = {e.fingerprint for e in parsed.entries}
    live = await repository.listed_by(session, source)
    unlisted = [row for row in live if row.fingerprint not in listed]
    if not force and len(unlisted) > max(1, MAX_UNLISTED_SHARE * len(live)):
        raise TooManyUnlisted(
            f"the list no longer names {len(unlisted)} of the {len(live)} CAs its source "
            f"gives now (more than {MAX_UNLISTED_SHARE:.0%}): a truncated list? "
            "Nothing was imported; idp trust import --force withdraws them"
        )
    known = await repository.by_fingerprints(session, listed)
    added = updated = unchanged = withdrawn = 0
    kept: list[Refusal] = []
    for entry in parsed.entries:
        row = known.get(entry.fingerprint)
        if row is None:
            if await repository.insert_if_absent(session, _new(entry, parsed.kind, source, now)):
                added += 1
                withdrawn += entry.withdrawn
            else:  # another import inserted it meanwhile: that source owns it
                unchanged += 1
                kept.append(Refusal(entry.fingerprint, OTHER_SOURCE))
            continue
        if row.blocked_at is not None:  # an operator's block outlasts every list
            unchanged += 1
            kept.append(Refusal(entry.fingerprint, BLOCKED))
            continue
        if row.source != source:
            # The source that listed it first owns it: another list naming it neither moves
            # it, widens its window nor trusts it again once its own list withdrew it. Any
            # list may withdraw it, though, whoever listed it first: a CA the official list
            # withdraws is not kept trusted by a directory an operator imported earlier.
            narrowed = _narrowing(row, entry, source, now)
            if not narrowed:
                unchanged += 1
                kept.append(Refusal(entry.fingerprint, OTHER_SOURCE))
                continue
            await repository.change(session, row.id, {**narrowed, "updated_at": now})
            if narrowed.get("withdrawn_at") is not None:
                withdrawn += 1
                _audit_withdrawal(session, row.fingerprint, source, now, "withdrawn by a list")
            else:
                updated += 1
            continue
        changes = _changes(row, entry, parsed.kind, now)
        if not changes:
            unchanged += 1
            continue
        await repository.change(session, row.id, {**changes, "updated_at": now})
        if changes.get("withdrawn_at") is not None:
            withdrawn += 1
            _audit_withdrawal(session, row.fingerprint, source, now, "withdrawn by its list")
        else:
            updated += 1
    for row in unlisted:
        await repository.change(
            session, row.id, {"withdrawn_at": now, "withdrawn_by": source, "updated_at": now}
        )
        withdrawn += 1
        _audit_withdrawal(session, row.fingerprint, source, now, "no longer listed")
    report = ImportReport(
        source, parsed.kind, added, updated, unchanged, withdrawn, parsed.refused, tuple(kept)
    )
    record(
        session,
        "trust.imported",
        at=now,
        source=source,
        kind=parsed.kind,
        added=added,
        updated=updated,
        unchanged=unchanged,
        withdrawn=withdrawn,
        refused=len(parsed.refused),
    )
    return report


class UnknownAnchor(BadInput):
    """No CA in the trust list has that fingerprint; nothing was changed."""


@dataclass(frozen=True, slots=True)
class BlockReport:
    fingerprint: str
    name: str
    blocked_at: datetime
    already_blocked: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "name": self.name,
            "blocked_at": self.blocked_at.isoformat(),
            "already_blocked": self.already_blocked,
        }


def normalise_fingerprint(value: str) -> str:
    """A SHA-256 fingerprint as stored (64 lowercase hex digits) from what an operator types
    (any case, colons or spaces between the bytes); ``BadInput`` for anything else."""
    cleaned = "".join(value.split()).replace(":", "").lower()
    if len(cleaned) != 64 or not set(cleaned) <= _HEX:
        raise BadInput("not a SHA-256 fingerprint (64 hexadecimal digits)")
    return cleaned


async def block_anchor(session: AsyncSession, fingerprint: str, *, now: datetime) -> BlockReport:
    """Distrust one CA at once and for good: it is withdrawn and no import trusts it again
    (``idp trust block``). Blocking a blocked CA changes nothing. ``UnknownAnchor`` when no
    anchor has that fingerprint, ``BadInput`` when it is not one."""
    wanted = normalise_fingerprint(fingerprint)
    await repository.bump_generation(session)  # first: every instance reloads, imports wait
    blocked = await repository.block(session, wanted, now)
    row = await repository.by_fingerprint(session, wanted)
    if row is None:
        raise UnknownAnchor("no CA in the trust list has that fingerprint")
    assert row.blocked_at is not None
    if blocked:
        record(session, "trust.blocked", at=now, source=row.source, fingerprint=wanted)
    return BlockReport(wanted, row.name, row.blocked_at, already_blocked=not blocked)


async def list_anchors(
    session: AsyncSession, *, include_withdrawn: bool = False
) -> list[TrustAnchor]:
    return await repository.listing(session, include_withdrawn=include_withdrawn)


def _new(entry: Entry, kind: str, source: str, now: datetime) -> dict[str, Any]:
    return {
        "fingerprint": entry.fingerprint,
        "certificate": entry.certificate,
        "subject": entry.subject,
        "name": entry.name,
        "source_kind": kind,
        "source": source,
        "accredited_from": entry.accredited_from,
        "accredited_until": entry.accredited_until,
        "not_after": entry.not_after,
        "imported_at": now,
        "updated_at": now,
        "withdrawn_at": now if entry.withdrawn else None,
        "withdrawn_by": source if entry.withdrawn else None,
    }


def _changes(row: TrustAnchor, entry: Entry, kind: str, now: datetime) -> dict[str, Any]:
    """What the owning source's list changes in its anchor."""
    wanted: dict[str, Any] = {
        "name": entry.name,
        "source_kind": kind,
        "accredited_from": entry.accredited_from,
        "accredited_until": entry.accredited_until,
    }
    changes = {key: value for key, value in wanted.items() if getattr(row, key) != value}
    if entry.withdrawn and row.withdrawn_at is None:
        changes["withdrawn_at"] = now
        changes["withdrawn_by"] = row.source
    elif (
        not entry.withdrawn
        and row.withdrawn_at is not None
        and row.withdrawn_by in (None, row.source)
    ):
        # Listed again: trusted again, unless another list withdrew it: only the list that
        # withdrew a CA trusts it again (_narrowing).
        changes["withdrawn_at"] = None
        changes["withdrawn_by"] = None
    return changes


def _narrowing(row: TrustAnchor, entry: Entry, source: str, now: datetime) -> dict[str, Any]:
    """What another source's list may change in an anchor it does not own: withdraw it, and
    trust it again only if it was this list that withdrew it; nothing else (its window stays
    its owner's: a window one list narrowed, the owner's next import would widen again)."""
    if row.withdrawn_at is None:
        return {"withdrawn_at": now, "withdrawn_by": source} if entry.withdrawn else {}
    if not entry.withdrawn and row.withdrawn_by == source:
        return {"withdrawn_at": None, "withdrawn_by": None}
    return {}


def _audit_withdrawal(
    session: AsyncSession, fingerprint: str, source: str, now: datetime, why: str
) -> None:
    record(session, "trust.withdrawn", at=now, source=source, fingerprint=fingerprint, why=why)
