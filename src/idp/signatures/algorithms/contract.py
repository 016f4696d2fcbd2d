"""The contract every signature algorithm plug-in (entry point group ``idp.signature_algorithms``)
must pass. Third-party plug-ins run it in their own tests.

Subclass :class:`AlgorithmContract` in a pytest module, name the class ``Test…`` and give it a
``harness``: the plug-in under test, built, and good signatures made by an implementation other
than the plug-in (a library, OpenSSL, a hardware token's export) for every signature OID it
claims::

    class TestSm2(AlgorithmContract):
        def harness(self) -> AlgorithmHarness:
            return AlgorithmHarness(build(AlgorithmSetup("sm2")), samples=sm2_samples())

The checks are plain and synchronous: a plug-in verifies in a worker of the verification pool,
never on an event loop. Known-answer digests for SHA-2 and Streebog are built in; a harness adds
vectors for any other digest it serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from asn1crypto import core
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from idp.signatures.oids import SHA256, STREEBOG_256, STREEBOG_512
from idp.signatures.protocol import SignatureAlgorithm, UnsupportedAlgorithm

SHA384 = "2.16.840.1.101.3.4.2.2"
SHA512 = "2.16.840.1.101.3.4.2.3"
# GOST R 34.11-2012 example M1 (RFC 6986 §10.1.1): the 63 ASCII digits "0123…012".
M1 = b"012345678901234567890123456789012345678901234567890123456789012"

# (digest OID, data, digest as CMS's messageDigest holds it)
KNOWN_ANSWERS: tuple[tuple[str, bytes, bytes], ...] = (
    # FIPS 180-2 appendix B.1, D.1, C.1
    (
        SHA256,
        b"abc",
        bytes.fromhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ),
    (
        SHA384,
        b"abc",
        bytes.fromhex(
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
            "8086072ba1e7cc2358baeca134c825a7"
        ),
    ),
    (
        SHA512,
        b"abc",
        bytes.fromhex(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        ),
    ),
    # RFC 6986 §10.1.2 and §10.1.1; `openssl dgst -md_gost12_256` prints the same bytes.
    (
        STREEBOG_256,
        M1,
        bytes.fromhex("9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"),
    ),
    (
        STREEBOG_512,
        M1,
        bytes.fromhex(
            "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
            "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
        ),
    ),
)

# Broken digests: idp never accepts a signature that rests on them (RFC 6151, RFC 9155 §3).
WEAK_DIGESTS = frozenset({"1.3.14.3.2.26", "1.2.840.113549.2.5", "1.2.840.113549.2.2"})
WEAK_SIGNATURES = frozenset(
    {
        "1.2.840.113549.1.1.4",  # md5WithRSAEncryption
        "1.2.840.113549.1.1.5",  # sha1WithRSAEncryption
        "1.2.840.10045.4.1",  # ecdsa-with-SHA1
        "1.2.840.10040.4.3",  # dsa-with-sha1
        "1.3.14.3.2.29",  # sha1WithRSASignature (OIW)
    }
)
FOREIGN_OID = "1.3.6.1.4.1.55555.1.1"  # a private arc no plug-in of idp's names


@dataclass(frozen=True, slots=True)
class Sample:
    """A good signature made outside the plug-in: ``signature`` over ``data`` with the key in
    ``public_key_info`` (DER SubjectPublicKeyInfo), named by ``signature_algorithm`` (DER
    AlgorithmIdentifier, as a certificate or a CMS SignerInfo would name it)."""

    label: str
    public_key_info: bytes
    signature_algorithm: bytes
    signature: bytes
    data: bytes
    digest_oid: str  # the digest the signature is over (passed as CMS passes it)


@dataclass(frozen=True, slots=True)
class AlgorithmHarness:
    algorithm: SignatureAlgorithm
    samples: Sequence[Sample]
    # More (digest OID, data, digest) vectors, for digests :data:`KNOWN_ANSWERS` lacks.
    vectors: Sequence[tuple[str, bytes, bytes]] = field(default_factory=tuple)


def algorithm_identifier(oid: str, parameters: bytes | None = None) -> bytes:
    """The DER AlgorithmIdentifier of ``oid`` with ``parameters`` (DER) or none."""
    body = core.ObjectIdentifier(oid).dump() + (parameters or b"")
    return _tlv(0x30, body)


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + body


def _flipped(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)


def _verify(algorithm: SignatureAlgorithm, sample: Sample, **changes: object) -> bool:
    sample = replace(sample, **changes)  # type: ignore[arg-type]
    return algorithm.verify(
        public_key_info=sample.public_key_info,
        signature_algorithm=sample.signature_algorithm,
        signature=sample.signature,
        data=sample.data,
        digest_oid=sample.digest_oid,
    )


def _oid(algorithm_identifier_der: bytes) -> str:
    return str(core.Sequence.load(algorithm_identifier_der)[0].dotted)


class AlgorithmContract:
    """The checks. Implement :meth:`harness`; everything else is inherited."""

    def harness(self) -> AlgorithmHarness:
        raise NotImplementedError("an AlgorithmContract subclass provides harness()")

    def test_it_is_a_signature_algorithm(self) -> None:
        algorithm = self.harness().algorithm
        assert isinstance(algorithm, SignatureAlgorithm)
        assert algorithm.name.strip(), "a plug-in has a name"
        assert algorithm.signature_oids, "a plug-in verifies at least one signature algorithm"
        for oid in (*algorithm.signature_oids, *algorithm.digest_oids):
            assert core.ObjectIdentifier(oid).dotted == oid, f"{oid!r} is not a dotted OID"

    def test_sha1_and_md5_are_never_served(self) -> None:
        algorithm = self.harness().algorithm
        assert not WEAK_DIGESTS & algorithm.digest_oids, "a broken digest is served"
        assert not WEAK_SIGNATURES & algorithm.signature_oids, "a broken signature is served"
        for oid in WEAK_DIGESTS:
            try:
                algorithm.digest(oid, b"abc")
            except UnsupportedAlgorithm:
                continue
            raise AssertionError(f"digest {oid} is computed")

    def test_digests_give_the_known_answers(self) -> None:
        harness = self.harness()
        vectors = [*KNOWN_ANSWERS, *harness.vectors]
        for oid in harness.algorithm.digest_oids:
            mine = [(data, expected) for o, data, expected in vectors if o == oid]
            assert mine, f"no known-answer vector for the digest {oid}"
            for data, expected in mine:
                got = harness.algorithm.digest(oid, data)
                assert got == expected, f"{oid}: {got.hex()} != {expected.hex()}"

    def test_a_foreign_digest_is_unsupported(self) -> None:
        algorithm = self.harness().algorithm
        try:
            algorithm.digest(FOREIGN_OID, b"abc")
        except UnsupportedAlgorithm:
            return
        raise AssertionError("a digest OID it does not serve must raise UnsupportedAlgorithm")

    def test_every_signature_oid_has_a_sample(self) -> None:
        harness = self.harness()
        sampled = {_oid(s.signature_algorithm) for s in harness.samples}
        missing = harness.algorithm.signature_oids - sampled
        assert not missing, f"the harness has no good signature for {sorted(missing)}"

    def test_good_signatures_verify(self) -> None:
        harness = self.harness()
        for sample in harness.samples:
            assert _verify(harness.algorithm, sample) is True, sample.label

    def test_good_signatures_verify_prehashed(self) -> None:
        # pyhanko-certvalidator hands some signatures over with the digest already taken.
        harness = self.harness()
        algorithm = harness.algorithm
        for sample in harness.samples:
            digest = algorithm.digest(sample.digest_oid, sample.data)
            assert (
                algorithm.verify(
                    public_key_info=sample.public_key_info,
                    signature_algorithm=sample.signature_algorithm,
                    signature=sample.signature,
                    data=digest,
                    digest_oid=sample.digest_oid,
                    prehashed=True,
                )
                is True
            ), sample.label

    def test_a_flipped_bit_is_false_not_an_exception(self) -> None:
        harness = self.harness()
        for sample in harness.samples:
            size = len(sample.signature)
            for position in sorted({0, size // 2, size - 1}):
                flipped = _flipped(sample.signature, position)
                assert _verify(harness.algorithm, sample, signature=flipped) is False, (
                    f"{sample.label}: signature bit {position * 8}"
                )
            data = _flipped(sample.data, 0) if sample.data else b"\x01"
            assert _verify(harness.algorithm, sample, data=data) is False, sample.label

    def test_garbage_signatures_are_false_not_an_exception(self) -> None:
        harness = self.harness()
        for sample in harness.samples:
            size = len(sample.signature)
            for garbage in (b"", b"\x00" * size, b"\xff" * size, sample.signature + b"\x00"):
                assert _verify(harness.algorithm, sample, signature=garbage) is False, (
                    f"{sample.label}: {len(garbage)} bytes of garbage"
                )

    def test_a_foreign_signature_oid_is_unsupported(self) -> None:
        harness = self.harness()
        sample = harness.samples[0]
        foreign = algorithm_identifier(FOREIGN_OID)
        try:
            _verify(harness.algorithm, sample, signature_algorithm=foreign)
        except UnsupportedAlgorithm:
            return
        raise AssertionError("a signature OID it does not serve must raise UnsupportedAlgorithm")

    def test_a_foreign_key_is_unsupported(self) -> None:
        # An Ed25519 key under each signature algorithm: no idp plug-in serves it, so none may
        # call it a failed signature (that would hide a configuration error as a bad one).
        harness = self.harness()
        stranger = (
            ed25519.Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        for sample in harness.samples:
            try:
                _verify(harness.algorithm, sample, public_key_info=stranger)
            except UnsupportedAlgorithm:
                continue
            raise AssertionError(f"{sample.label}: an Ed25519 key must be UnsupportedAlgorithm")
