"""Keys and algorithm combinations idp does not accept: a degenerate GOST point (gostcrypto
would verify against the base point instead), RSA under 2048 bits, EC curves off the allow-list,
and a SignerInfo whose digestAlgorithm is not the one its signature algorithm implies."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

# gostcrypto ships no type information.
from gostcrypto import gostsignature  # type: ignore[import-untyped]

from idp.signatures.algorithms.contract import algorithm_identifier
from idp.signatures.algorithms.gost import KEY_256, STREEBOG_256, GostAlgorithm, streebog
from idp.signatures.algorithms.pyca import PycaAlgorithm
from idp.signatures.dev import pki
from idp.signatures.dev.cms import content_info, signed_data
from idp.signatures.protocol import UnsupportedAlgorithm
from idp.signatures.result import Reason
from tests.support.signature_kit import CONTENT, checker, person, run, verify_with

CURVE_OID = "1.2.643.7.1.2.1.1.2"  # tc26 256 paramSetB
CURVE = gostsignature.CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-2012-256-paramSetB"]


def _tlv(tag: int, body: bytes) -> bytes:
    assert len(body) < 0x80
    return bytes([tag, len(body)]) + body


def gost_key(x: int, y: int) -> bytes:
    """A GOST 256 SubjectPublicKeyInfo for the point (x, y), little-endian as stored."""
    parameters = _tlv(0x30, algorithm_identifier(CURVE_OID)[2:])
    algorithm = algorithm_identifier(KEY_256, parameters)
    point = x.to_bytes(32, "little") + y.to_bytes(32, "little")
    bits = _tlv(0x03, b"\x00" + _tlv(0x04, point))
    return _tlv(0x30, algorithm + bits)


def signed_with_private_key_one() -> bytes:
    """A signature by the private key 1, whose public key is the base point G."""
    signer = gostsignature.new(gostsignature.MODE_256, CURVE)
    digest = streebog(256, CONTENT)
    rs = signer.sign(bytearray((1).to_bytes(32, "big")), bytearray(digest[::-1]))
    return bytes(rs[32:] + rs[:32])


def gost_verify(public_key_info: bytes, signature: bytes) -> bool:
    return GostAlgorithm().verify(
        public_key_info=public_key_info,
        signature_algorithm=algorithm_identifier(KEY_256),
        signature=signature,
        data=CONTENT,
        digest_oid=STREEBOG_256,
    )


def test_the_genuine_base_point_verifies() -> None:
    assert gost_verify(gost_key(CURVE["x"], CURVE["y"]), signed_with_private_key_one())


@pytest.mark.parametrize(
    ("x", "y"),
    [(0, 12345), (999, 0), (1, 1), (CURVE["x"] + CURVE["p"], CURVE["y"])],
    ids=["x=0", "y=0", "off the curve", "x not reduced"],
)
def test_a_degenerate_gost_key_does_not_verify(x: int, y: int) -> None:
    assert x.bit_length() <= 256  # p + Gx still fits the 32 bytes a key holds
    assert gost_verify(gost_key(x, y), signed_with_private_key_one()) is False


def _spki(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_rsa_under_2048_bits_is_unsupported() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused
    signature = key.sign(CONTENT, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(UnsupportedAlgorithm, match="1024 bits"):
        PycaAlgorithm().verify(
            public_key_info=_spki(key),
            signature_algorithm=algorithm_identifier("1.2.840.113549.1.1.11", b"\x05\x00"),
            signature=signature,
            data=CONTENT,
        )


@pytest.mark.parametrize(
    ("curve", "allowed"),
    [(ec.SECP256K1(), False), (ec.SECP224R1(), False), (ec.SECP384R1(), True)],
)
def test_only_allowed_curves(curve: ec.EllipticCurve, allowed: bool) -> None:
    key = ec.generate_private_key(curve)
    signature = key.sign(CONTENT, ec.ECDSA(hashes.SHA256()))
    arguments = {
        "public_key_info": _spki(key),
        "signature_algorithm": algorithm_identifier("1.2.840.10045.4.3.2"),
        "signature": signature,
        "data": CONTENT,
    }
    if allowed:
        assert PycaAlgorithm().verify(**arguments) is True  # type: ignore[arg-type]
    else:
        with pytest.raises(UnsupportedAlgorithm, match="curve"):
            PycaAlgorithm().verify(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("algo", "signature_algorithm", "digest"),
    [
        ("p256", "sha256_ecdsa", "sha384"),
        ("rsa2048", "sha256_rsa", "sha384"),
        ("gost256", None, "1.2.643.7.1.1.2.3"),  # GOST 256 with Streebog-512
    ],
)
def test_a_digest_other_than_the_signature_algorithm_implies_is_refused(
    algo: pki.KeyAlgo, signature_algorithm: str | None, digest: str
) -> None:
    signed = signed_data(CONTENT, person(algo))
    signer_info = signed["signer_infos"][0]
    if signature_algorithm is not None:
        signer_info["signature_algorithm"] = {"algorithm": signature_algorithm}
    signer_info["digest_algorithm"] = {"algorithm": digest}
    result = run(verify_with(checker(), content_info(signed)))
    assert result.reason is Reason.UNKNOWN_ALGORITHM, result
    assert "with the digest" in result.detail
