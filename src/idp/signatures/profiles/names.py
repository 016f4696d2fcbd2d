"""Reading a certificate's subject and extensions, shared by the profiles."""

from __future__ import annotations

from asn1crypto import core, x509


def subject_values(certificate: x509.Certificate) -> dict[str, str]:
    """The subject's attributes by dotted OID (the first of each), as text whatever string type
    the CA chose (NumericString, PrintableString, UTF8String, …)."""
    found: dict[str, str] = {}
    for rdn in certificate.subject.chosen:
        for attribute in rdn:
            oid = attribute["type"].dotted
            if oid in found:
                continue
            value = attribute["value"]
            native = value.parse().native if isinstance(value, core.Any) else value.native
            if isinstance(native, str) and native.strip():
                found[oid] = native.strip()
    return found


def repeated(certificate: x509.Certificate, oids: frozenset[str]) -> str | None:
    """The first of ``oids`` the subject holds more than once, or None. A certificate naming
    two SNILS (or two surnames) names nobody in particular: which one counts would be the
    reader's choice, and another reader could choose the other."""
    counts: dict[str, int] = {}
    for rdn in certificate.subject.chosen:
        for attribute in rdn:
            oid = attribute["type"].dotted
            if oid in oids:
                counts[oid] = counts.get(oid, 0) + 1
                if counts[oid] > 1:
                    return str(oid)
    return None


def extension_value(certificate: x509.Certificate, oid: str) -> bytes | None:
    """The DER inside the extension ``oid``, or None when the certificate lacks it."""
    for extension in certificate["tbs_certificate"]["extensions"] or ():
        if extension["extn_id"].dotted == oid:
            return bytes(extension["extn_value"].contents)
    return None


def policy_oids(certificate: x509.Certificate) -> tuple[str, ...]:
    policies = certificate.certificate_policies_value
    if policies is None:
        return ()
    return tuple(policy["policy_identifier"].dotted for policy in policies)
