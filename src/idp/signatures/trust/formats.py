"""Reading trust lists: what CA certificates a file, a directory or a download lists.

Three formats, told apart by content (never by the file's name):

- **certificates**: one PEM file (any number of certificates), one DER certificate, or a
  directory of ``.pem``/``.crt``/``.cer``/``.der`` files; no accreditation window.
- **etsi-tsl**: an ETSI TS 119 612 trusted list (``etsi``).
- **ru-accredited**: the Russian list of accredited CAs, ``АккредитованныеУдостоверяющиеЦентры``
  (``ru_list``).

Only CA certificates are taken (basicConstraints cA=TRUE): anything else is refused with its
reason and the rest of the list is read on. Input that is none of these raises
``UnreadableSource``. The lists' own XML signatures are not checked: a list is trusted as far as
the way it came (an operator's file, an https download) is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from idp.signatures.trust import etsi, ru_list
from idp.signatures.trust.listed import ListedCA
from idp.signatures.trust.xmlsafe import UnreadableSource, local, parse_xml

CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")
MAX_LIST_BYTES = 128 * 1024 * 1024  # the Russian list is some tens of MB
NAME_LENGTH = 255

__all__ = ["Entry", "ListedCA", "Parsed", "Refusal", "UnreadableSource", "parse", "read_path"]


@dataclass(frozen=True, slots=True)
class Entry:
    certificate: bytes  # DER
    fingerprint: str  # SHA-256 of the DER, hex
    subject: str  # RFC 4514
    name: str
    not_after: datetime
    accredited_from: datetime | None = None
    accredited_until: datetime | None = None
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """What was not taken: a label that is never a person's name (a file name, a fingerprint,
    a CA's listed name) and why."""

    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class Parsed:
    kind: str  # certificates | etsi-tsl | ru-accredited
    entries: tuple[Entry, ...]
    refused: tuple[Refusal, ...] = field(default=())


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def parse(data: bytes) -> Parsed:
    """The CAs ``data`` lists, its format told by its content."""
    if len(data) > MAX_LIST_BYTES:
        raise UnreadableSource(f"larger than {MAX_LIST_BYTES} bytes")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<") or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return _parse_xml(data)
    if head.startswith(b"-----BEGIN"):
        listed = list(_pem_certificates(head))
        if not listed:
            raise UnreadableSource("a PEM file without a certificate")
        return checked("certificates", listed)
    if head.startswith(b"\x30"):
        return checked("certificates", [ListedCA(data)])
    raise UnreadableSource("neither certificates nor a trusted list")


def read_path(path: Path) -> Parsed:
    """A file (any of the formats) or a directory of certificate files."""
    path = path.expanduser()
    try:
        if path.is_dir():
            return _read_directory(path)
        with path.open("rb") as stream:
            data = stream.read(MAX_LIST_BYTES + 1)
    except OSError as exc:
        raise UnreadableSource(f"{path}: {exc.strerror or exc}") from None
    return parse(data)


def _read_directory(path: Path) -> Parsed:
    files = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in CERTIFICATE_SUFFIXES
    )
    if not files:
        raise UnreadableSource(f"{path}: no {'/'.join(CERTIFICATE_SUFFIXES)} files")
    entries: list[Entry] = []
    refused: list[Refusal] = []
    for file in files:
        try:
            found = parse(file.read_bytes())
        except (UnreadableSource, OSError) as exc:
            refused.append(Refusal(file.name, str(exc) or "unreadable"))
            continue
        if found.kind != "certificates":
            refused.append(Refusal(file.name, "a trusted list, not a certificate file"))
            continue
        entries.extend(found.entries)
        refused.extend(Refusal(f"{file.name} {r.label}", r.reason) for r in found.refused)
    return Parsed("certificates", _unique(entries), tuple(refused))


def _pem_certificates(data: bytes) -> Iterable[ListedCA]:
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise UnreadableSource("a PEM file that does not hold certificates") from None
    for certificate in certificates:
        yield ListedCA(certificate.public_bytes(Encoding.DER))


def _parse_xml(data: bytes) -> Parsed:
    root = parse_xml(data)
    name = local(root.tag)
    if name == "TrustServiceStatusList":
        return checked("etsi-tsl", etsi.listed_cas(root))
    if name == "АккредитованныеУдостоверяющиеЦентры":
        return checked("ru-accredited", ru_list.listed_cas(root))
    raise UnreadableSource(f"an XML document of an unknown kind ({name[:40]})")


def checked(kind: str, listed: Iterable[ListedCA]) -> Parsed:
    """The CA certificates among ``listed``, the others refused with their reasons."""
    entries: list[Entry] = []
    refused: list[Refusal] = []
    for item in listed:
        entry, problem = (None, item.refusal) if item.refusal else _entry(item)
        if entry is None:
            label = (item.name or "")[:80] or fingerprint(item.certificate)[:16]
            refused.append(Refusal(label, problem))
        else:
            entries.append(entry)
    return Parsed(kind, _unique(entries), tuple(refused))


def _entry(item: ListedCA) -> tuple[Entry | None, str]:
    try:
        certificate = x509.load_der_x509_certificate(item.certificate)
        subject = certificate.subject.rfc4514_string()
        not_after = certificate.not_valid_after_utc
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        is_ca = constraints.value.ca
    except x509.ExtensionNotFound:
        return None, "not a CA certificate (no basicConstraints)"
    except ValueError:
        return None, "not a DER X.509 certificate"
    if not is_ca:
        return None, "not a CA certificate (basicConstraints cA is false)"
    name = (item.name or _common_name(certificate) or subject)[:NAME_LENGTH]
    return Entry(
        certificate=item.certificate,
        fingerprint=fingerprint(item.certificate),
        subject=subject,
        name=name,
        not_after=not_after,
        accredited_from=item.accredited_from,
        accredited_until=item.accredited_until,
        withdrawn=item.withdrawn,
    ), ""


def _common_name(certificate: x509.Certificate) -> str | None:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _unique(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """One entry per certificate: a CA listed twice (two services, two programme complexes)
    keeps the entry that trusts it, if any does."""
    chosen: dict[str, Entry] = {}
    for entry in entries:
        known = chosen.get(entry.fingerprint)
        if known is None or (known.withdrawn and not entry.withdrawn):
            chosen[entry.fingerprint] = entry
    return tuple(chosen.values())
