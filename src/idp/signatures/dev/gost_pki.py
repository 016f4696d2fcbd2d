"""GOST R 34.10-2012 keys and signatures, GOST R 34.11-2012 (Streebog) digests, for the kit.

Pure Python over gostcrypto 1.2.5, so that tests and dev mode need no GOST-capable OpenSSL.
The byte orders are the ones proved against OpenSSL's GOST engine (RFC 9215; research notes
§A1, §A2.2):

- the SubjectPublicKeyInfo BIT STRING wraps an OCTET STRING holding X‖Y, each half
  little-endian;
- a signature in a certificate, CRL, OCSP response or CMS is s‖r, big-endian (gostcrypto
  gives and takes r‖s);
- the Streebog digest is read as a little-endian integer: gostcrypto is handed it reversed.

The certificates, CRLs, OCSP responses and CMS themselves are built by :mod:`.pki` and
:mod:`.cms`, the same code for every algorithm; this module only supplies the GOST parts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import gostcrypto  # type: ignore[import-untyped]
from asn1crypto import core

from idp.signatures.oids import KEY_256, KEY_512, SIGN_256, SIGN_512, STREEBOG_256, STREEBOG_512

GostCurve = Literal["cryptopro-a", "cryptopro-b", "tc26-256-a", "tc26-512-a"]


# curve -> (bits, paramset OID, gostcrypto's name for the same curve)
_CURVES: dict[str, tuple[int, str, str]] = {
    # CryptoPro-A is tc26 256 paramSetB, CryptoPro-B is tc26 256 paramSetC (RFC 9215 §5).
    "cryptopro-a": (256, "1.2.643.2.2.35.1", "id-tc26-gost-3410-2012-256-paramSetB"),
    "cryptopro-b": (256, "1.2.643.2.2.35.2", "id-tc26-gost-3410-2012-256-paramSetC"),
    "tc26-256-a": (256, "1.2.643.7.1.2.1.1.1", "id-tc26-gost-3410-2012-256-paramSetA"),
    "tc26-512-a": (512, "1.2.643.7.1.2.1.2.1", "id-tc26-gost-3410-12-512-paramSetA"),
}
# RFC 9215 §4.2: the digest parameter set is named only for the 256-bit CryptoPro curves.
_NAMES_DIGEST = {"cryptopro-a", "cryptopro-b"}


class _KeyParameters(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


@dataclass(frozen=True)
class GostKey:
    """A GOST R 34.10-2012 private key. ``private`` is the big-endian scalar (gostcrypto's
    order); :meth:`pkcs8` gives the little-endian form OpenSSL's engine reads."""

    curve: GostCurve
    private: bytes = field(repr=False)

    @property
    def bits(self) -> int:
        return _CURVES[self.curve][0]

    @property
    def key_oid(self) -> str:
        return KEY_256 if self.bits == 256 else KEY_512

    @property
    def digest_oid(self) -> str:
        return STREEBOG_256 if self.bits == 256 else STREEBOG_512

    @property
    def signature_oid(self) -> str:
        return SIGN_256 if self.bits == 256 else SIGN_512

    def _parameters(self) -> _KeyParameters:
        params = _KeyParameters({"public_key_param_set": _CURVES[self.curve][1]})
        if self.curve in _NAMES_DIGEST:
            params["digest_param_set"] = self.digest_oid
        return params

    def _engine(self) -> Any:
        bits, _, name = _CURVES[self.curve]
        mode = (
            gostcrypto.gostsignature.MODE_256 if bits == 256 else gostcrypto.gostsignature.MODE_512
        )
        return gostcrypto.gostsignature.new(
            mode, gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[name]
        )

    def _algorithm(self) -> bytes:
        return _sequence(core.ObjectIdentifier(self.key_oid).dump() + self._parameters().dump())

    def public_key_info(self) -> bytes:
        """The DER SubjectPublicKeyInfo."""
        xy = bytes(self._engine().public_key_generate(bytearray(self.private)))
        half = len(xy) // 2
        point = core.OctetString(xy[:half][::-1] + xy[half:][::-1]).dump()
        # asn1crypto has no spec for a GOST public key: the DER is put together here.
        bit_string = b"\x03" + _length(len(point) + 1) + b"\x00" + point
        return _sequence(self._algorithm() + bit_string)

    def sign(self, data: bytes) -> bytes:
        """The signature over ``data`` (Streebog of the key's size), s‖r big-endian."""
        digest = streebog(self.bits, data)
        r_s = bytes(self._engine().sign(bytearray(self.private), bytearray(digest[::-1])))
        half = len(r_s) // 2
        return r_s[half:] + r_s[:half]

    def pkcs8(self) -> bytes:
        """The DER PrivateKeyInfo as OpenSSL's GOST engine reads it (the scalar in an OCTET
        STRING, little-endian)."""
        algorithm = self._algorithm()
        inner = core.OctetString(self.private[::-1]).dump()
        return _sequence(core.Integer(0).dump() + algorithm + core.OctetString(inner).dump())


def generate(curve: GostCurve) -> GostKey:
    bits, _, name = _CURVES[curve]
    order = int(gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[name]["q"])
    scalar = secrets.randbelow(order - 1) + 1
    return GostKey(curve, scalar.to_bytes(bits // 8, "big"))


# The same curves under their other names (RFC 9215 §5): tc26 256 B = CryptoPro-A, C = -B.
_BY_PARAMSET: dict[str, GostCurve] = {
    "1.2.643.2.2.35.1": "cryptopro-a",
    "1.2.643.7.1.2.1.1.2": "cryptopro-a",
    "1.2.643.2.2.36.0": "cryptopro-a",
    "1.2.643.2.2.35.2": "cryptopro-b",
    "1.2.643.7.1.2.1.1.3": "cryptopro-b",
    "1.2.643.7.1.2.1.1.1": "tc26-256-a",
    "1.2.643.7.1.2.1.2.1": "tc26-512-a",
}


def from_pkcs8(der: bytes) -> GostKey:
    """The key in a PrivateKeyInfo as OpenSSL's GOST engine writes it (the little-endian scalar
    as the OCTET STRING's value, or wrapped in one more OCTET STRING, or a big-endian INTEGER).
    Raises ValueError for a curve the kit does not know."""
    info = core.Sequence.load(der)
    parameters = _KeyParameters.load(core.Sequence.load(info[1].dump())[1].dump())
    curve = _BY_PARAMSET.get(parameters["public_key_param_set"].dotted)
    if curve is None:
        raise ValueError("unknown GOST parameter set")
    raw: bytes = info[2].contents
    size = _CURVES[curve][0] // 8
    if raw[:1] == b"\x02":
        scalar = int(core.Integer.load(raw).native).to_bytes(size, "big")
    elif raw[:1] == b"\x04" and len(raw) == size + 2:
        scalar = raw[2:][::-1]
    else:
        scalar = raw[::-1]
    return GostKey(curve, scalar)


def streebog(bits: int, data: bytes) -> bytes:
    """GOST R 34.11-2012 of ``data``, in the byte order ``openssl dgst`` prints (and CMS's
    messageDigest and ESS certHash hold)."""
    return bytes(gostcrypto.gosthash.new(f"streebog{bits}", data=data).digest())


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _sequence(contents: bytes) -> bytes:
    return b"\x30" + _length(len(contents)) + contents
