"""GOST R 34.10-2012 signatures (256 and 512 bits) with GOST R 34.11-2012 (Streebog) digests,
verified by gostcrypto (pure Python), as RFC 9215 and RFC 7091 use them in certificates, CRLs,
OCSP responses and CMS.

Byte orders (checked against OpenSSL's GOST engine, see the research notes §A1): the key in the
SubjectPublicKeyInfo is an OCTET STRING holding X‖Y, each half little-endian; a signature is
s‖r, big-endian; gostcrypto wants the key big-endian, the signature r‖s and the digest
reversed (the digest is read as a little-endian number).
"""

from __future__ import annotations

from typing import Any

# gostcrypto ships no type information.
import gostcrypto  # type: ignore[import-untyped]
from asn1crypto import core
from gostcrypto import gostsignature

from idp.signatures.oids import KEY_256, KEY_512, SIGN_256, SIGN_512, STREEBOG_256, STREEBOG_512
from idp.signatures.protocol import AlgorithmSetup, UnsupportedAlgorithm

_BITS = {KEY_256: 256, SIGN_256: 256, KEY_512: 512, SIGN_512: 512}
_DIGESTS = {STREEBOG_256: ("streebog256", 256), STREEBOG_512: ("streebog512", 512)}

# Curves by the OID in the key's parameters; CryptoPro's older names are the same curves
# (RFC 9215 §2, R 1323565.1.024-2019).
_CURVES_256 = {
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-A
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",  # CryptoPro-XchA
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",  # CryptoPro-B
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-C
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",  # CryptoPro-XchB
}
_CURVES_512 = {
    "1.2.643.7.1.2.1.2.1": "id-tc26-gost-3410-12-512-paramSetA",
    "1.2.643.7.1.2.1.2.2": "id-tc26-gost-3410-12-512-paramSetB",
    "1.2.643.7.1.2.1.2.3": "id-tc26-gost-3410-2012-512-paramSetC",
}


def streebog(bits: int, data: bytes) -> bytes:
    return bytes(gostcrypto.gosthash.new(f"streebog{bits}", data=data).digest())


def curve_of(oid: str, bits: int) -> dict[str, Any]:
    name = (_CURVES_256 if bits == 256 else _CURVES_512).get(oid)
    if name is None:
        raise UnsupportedAlgorithm(f"GOST curve {oid}")
    curve: dict[str, Any] = gostsignature.CURVES_R_1323565_1_024_2019[name]
    return curve


def on_curve(curve: dict[str, Any], x_le: bytes, y_le: bytes) -> bool:
    """Whether (x, y), each little-endian as the key stores it, is a point of ``curve`` other
    than a degenerate one: 0 < x, y < p and y² = x³ + ax + b (mod p). gostcrypto keeps every
    curve, the twisted Edwards ones (tc26 256-A, 512-C) too, in this Weierstrass form."""
    p, a, b = int(curve["p"]), int(curve["a"]), int(curve["b"])
    x, y = int.from_bytes(x_le, "little"), int.from_bytes(y_le, "little")
    if not (0 < x < p and 0 < y < p):
        return False
    return (y * y - (x * x * x + a * x + b)) % p == 0


def read_public_key(public_key_info: bytes) -> tuple[int, str, bytes]:
    """The key's size in bits, its curve's OID and X‖Y (each little-endian, as stored)."""
    spki = core.Sequence.load(public_key_info)
    algorithm = spki[0]
    key_oid = algorithm[0].dotted
    bits = {KEY_256: 256, KEY_512: 512}.get(key_oid)
    if bits is None:
        raise UnsupportedAlgorithm(f"a {key_oid} key is not a GOST R 34.10-2012 key")
    curve_oid = algorithm[1][0].dotted
    bit_string = bytes(spki[1].contents)
    if not bit_string or bit_string[0] != 0:  # the count of unused bits
        raise UnsupportedAlgorithm("a GOST public key that is not whole bytes")
    point = core.OctetString.load(bit_string[1:]).native
    if len(point) != bits // 4:
        raise UnsupportedAlgorithm("a GOST public key of the wrong length")
    return bits, curve_oid, point


class GostAlgorithm:
    name = "gost"
    signature_oids = frozenset(_BITS)
    digest_oids = frozenset(_DIGESTS)

    def digest(self, digest_oid: str, data: bytes) -> bytes:
        found = _DIGESTS.get(digest_oid)
        if found is None:
            raise UnsupportedAlgorithm(digest_oid)
        return streebog(found[1], data)

    def verify(
        self,
        *,
        public_key_info: bytes,
        signature_algorithm: bytes,
        signature: bytes,
        data: bytes,
        digest_oid: str | None = None,
        prehashed: bool = False,
    ) -> bool:
        oid = core.Sequence.load(signature_algorithm)[0].dotted
        bits = _BITS.get(oid)
        if bits is None:
            raise UnsupportedAlgorithm(oid)
        key_bits, curve_oid, point = read_public_key(public_key_info)
        if key_bits != bits:
            raise UnsupportedAlgorithm("a GOST signature with a key of the other size")
        # The digest is the key's size (RFC 9215 §3.1); CMS names it apart and must agree.
        if digest_oid is not None and _DIGESTS.get(digest_oid, ("", 0))[1] != bits:
            raise UnsupportedAlgorithm(f"GOST {bits} with the digest {digest_oid}")
        if len(signature) != bits // 4:
            return False
        half = bits // 8
        curve = curve_of(curve_oid, bits)
        if not on_curve(curve, point[:half], point[half:]):
            return False  # gostcrypto would verify against another point (x = 0 gives G)
        public = point[:half][::-1] + point[half:][::-1]
        digest = data if prehashed else streebog(bits, data)
        if len(digest) != half:
            return False
        mode = gostsignature.MODE_256 if bits == 256 else gostsignature.MODE_512
        signer = gostsignature.new(mode, curve)
        try:
            return bool(
                signer.verify(
                    bytearray(public),
                    bytearray(digest[::-1]),
                    bytearray(signature[half:] + signature[:half]),
                )
            )
        except Exception:  # gostcrypto raises on out-of-range values: not a valid signature
            return False


def build(setup: AlgorithmSetup) -> GostAlgorithm:
    return GostAlgorithm()
