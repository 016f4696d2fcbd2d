"""The algorithm contract (idp.signatures.algorithms.contract) run against idp's two plug-ins,
with good signatures made outside them: by ``cryptography`` for pyca (RSA PKCS #1 v1.5, RSA-PSS,
ECDSA on P-256 and P-384), by OpenSSL's GOST engine for gost (every 256-bit parameter set,
CryptoPro-A/B/C and XchA/XchB among them, and the 512-bit ones)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from asn1crypto import algos, core
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from idp.signatures import oids
from idp.signatures.algorithms import gost, pyca
from idp.signatures.algorithms.contract import (
    SHA384,
    SHA512,
    AlgorithmContract,
    AlgorithmHarness,
    Sample,
    _flipped,
    _verify,
    algorithm_identifier,
)
from idp.signatures.oids import SHA256, STREEBOG_256, STREEBOG_512
from idp.signatures.protocol import AlgorithmSetup
from tests.support.pki import openssl

DATA = b"confirm|account|contract"
_HASH: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    SHA256: hashes.SHA256,
    SHA384: hashes.SHA384,
    SHA512: hashes.SHA512,
}
_NULL = core.Null().dump()


def _spki(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@cache
def pyca_samples() -> tuple[Sample, ...]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    samples = []
    for oid, digest in ((pyca.RSA_KEY, SHA256), *((o, d) for o, d in pyca._RSA_WITH.items())):
        signature = rsa_key.sign(DATA, padding.PKCS1v15(), _HASH[digest]())
        samples.append(
            Sample(
                f"rsa {oid}",
                _spki(rsa_key),
                algorithm_identifier(oid, _NULL),
                signature,
                DATA,
                digest,
            )
        )
    for digest, name, salt in ((SHA256, "sha256", 32), (SHA512, "sha512", 64)):
        pss = algos.SignedDigestAlgorithm(
            {
                "algorithm": "rsassa_pss",
                "parameters": {
                    "hash_algorithm": {"algorithm": name},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": name},
                    },
                    "salt_length": salt,
                },
            }
        ).dump()
        hasher = _HASH[digest]()
        signature = rsa_key.sign(DATA, padding.PSS(padding.MGF1(hasher), salt), hasher)
        samples.append(Sample(f"rsa-pss {name}", _spki(rsa_key), pss, signature, DATA, digest))
    for curve in (ec.SECP256R1(), ec.SECP384R1()):
        ec_key = ec.generate_private_key(curve)
        pairs = ((pyca.EC_KEY, SHA256), *((o, d) for o, d in pyca._ECDSA_WITH.items()))
        for oid, digest in pairs:
            signature = ec_key.sign(DATA, ec.ECDSA(_HASH[digest]()))
            samples.append(
                Sample(
                    f"ecdsa {curve.name} {oid}",
                    _spki(ec_key),
                    algorithm_identifier(oid),
                    signature,
                    DATA,
                    digest,
                )
            )
    return tuple(samples)


GOST_PARAMSETS = (
    ("gost2012_256", "A"),  # CryptoPro-A
    ("gost2012_256", "B"),  # CryptoPro-B
    ("gost2012_256", "C"),  # CryptoPro-C
    ("gost2012_256", "XA"),  # CryptoPro-XchA
    ("gost2012_256", "XB"),  # CryptoPro-XchB
    ("gost2012_256", "TCA"),  # tc26 256 A (twisted Edwards)
    ("gost2012_256", "TCB"),
    ("gost2012_256", "TCC"),
    ("gost2012_256", "TCD"),
    ("gost2012_512", "A"),
    ("gost2012_512", "B"),
    ("gost2012_512", "C"),
)


@cache
def gost_samples() -> tuple[Sample, ...]:
    samples = []
    with tempfile.TemporaryDirectory(prefix="idp-gost-contract-") as tmp:
        directory = Path(tmp)
        (directory / "data").write_bytes(DATA)
        for kind, paramset in GOST_PARAMSETS:
            bits = 256 if kind.endswith("256") else 512
            key, signature = f"{kind}-{paramset}.key", f"{kind}-{paramset}.sig"
            openssl(
                "genpkey", "-algorithm", kind, "-pkeyopt", f"paramset:{paramset}", "-out", key,
                cwd=directory, gost=True,
            )  # fmt: skip
            openssl(
                "dgst", f"-md_gost12_{bits}", "-sign", key, "-out", signature, "data",
                cwd=directory, gost=True,
            )  # fmt: skip
            openssl(
                "pkey", "-in", key, "-pubout", "-outform", "DER", "-out", f"{key}.pub",
                cwd=directory, gost=True,
            )  # fmt: skip
            spki = (directory / f"{key}.pub").read_bytes()
            value = (directory / signature).read_bytes()
            digest = STREEBOG_256 if bits == 256 else STREEBOG_512
            # CMS names the key's algorithm, certificates the signature's: both are served.
            for oid in (
                (oids.KEY_256, oids.SIGN_256) if bits == 256 else (oids.KEY_512, oids.SIGN_512)
            ):
                samples.append(
                    Sample(
                        f"{kind} paramset {paramset} {oid}",
                        spki,
                        algorithm_identifier(oid),
                        value,
                        DATA,
                        digest,
                    )
                )
    return tuple(samples)


class TestPyca(AlgorithmContract):
    def harness(self) -> AlgorithmHarness:
        return AlgorithmHarness(pyca.build(AlgorithmSetup("pyca")), pyca_samples())


class TestGost(AlgorithmContract):
    def harness(self) -> AlgorithmHarness:
        return AlgorithmHarness(gost.build(AlgorithmSetup("gost")), gost_samples())

    def test_a_flipped_bit_is_false_not_an_exception(self) -> None:
        # The contract's check on every sample costs ≈100 pure-Python GOST verifications
        # (≈9 s). Each mutation fails the same arithmetic whatever the OID naming it, so one
        # sample per key is flipped, the two OIDs alternating; the 256-bit keys get every
        # mutation, the three 512-bit keys share them out (each still fails one verification,
        # and every mutation kind reaches a 512-bit key). Every sample and OID still verifies
        # good in the tests above.
        algorithm = self.harness().algorithm
        per_key = flipped_bit_samples()
        assert {s.signature_algorithm for s in per_key} == {
            s.signature_algorithm for s in gost_samples()
        }
        big = 0
        for sample in per_key:
            kinds = MUTATIONS
            if "512" in sample.label:
                kinds = MUTATIONS[big::3]
                big += 1
            for kind in kinds:
                assert _verify(algorithm, sample, **mutated(sample, kind)) is False, (
                    f"{sample.label}: {kind}"
                )
        assert big == 3


MUTATIONS = ("first signature byte", "middle signature byte", "last signature byte", "data")


def mutated(sample: Sample, kind: str) -> dict[str, bytes]:
    """The contract's four mutations (``AlgorithmContract.test_a_flipped_bit…``) by name."""
    if kind == "data":
        return {"data": _flipped(sample.data, 0) if sample.data else b"\x01"}
    size = len(sample.signature)
    position = {"first": 0, "middle": size // 2, "last": size - 1}[kind.split()[0]]
    return {"signature": _flipped(sample.signature, position)}


def flipped_bit_samples() -> tuple[Sample, ...]:
    """One GOST sample per key: the first OID for one key, the second for the next."""
    by_key: dict[bytes, list[Sample]] = {}
    for sample in gost_samples():
        by_key.setdefault(sample.public_key_info, []).append(sample)
    return tuple(samples[index % len(samples)] for index, samples in enumerate(by_key.values()))


def test_the_cryptopro_paramsets_are_among_the_gost_samples() -> None:
    # The curves CryptoPro CSP keys are on (RFC 9215 §5): their OIDs must reach the plug-in.
    curves = {core.Sequence.load(s.public_key_info)[0][1][0].dotted for s in gost_samples()}
    assert {"1.2.643.2.2.35.1", "1.2.643.2.2.35.2", "1.2.643.2.2.35.3"} <= curves
    assert {"1.2.643.2.2.36.0", "1.2.643.2.2.36.1"} <= curves


def test_rsa_pss_is_among_the_pyca_samples() -> None:
    assert any(s.label.startswith("rsa-pss") for s in pyca_samples())


class TestContractCatchesABrokenPlugin:
    """The contract fails a plug-in that calls every signature good: it is not vacuous."""

    def test_a_plugin_that_accepts_everything_fails(self) -> None:
        class AcceptsAll(pyca.PycaAlgorithm):
            def verify(self, **kwargs: Any) -> bool:
                super().verify(**kwargs)
                return True

        class Broken(AlgorithmContract):
            def harness(self) -> AlgorithmHarness:
                return AlgorithmHarness(AcceptsAll(), pyca_samples())

        try:
            Broken().test_a_flipped_bit_is_false_not_an_exception()
        except AssertionError:
            return
        raise AssertionError("the contract let a plug-in that accepts everything pass")

    def test_a_wrong_streebog_fails(self) -> None:
        class LittleEndianDigest(gost.GostAlgorithm):
            def digest(self, digest_oid: str, data: bytes) -> bytes:
                return super().digest(digest_oid, data)[::-1]

        class Broken(AlgorithmContract):
            def harness(self) -> AlgorithmHarness:
                return AlgorithmHarness(LittleEndianDigest(), gost_samples())

        try:
            Broken().test_digests_give_the_known_answers()
        except AssertionError:
            return
        raise AssertionError("the contract let a reversed Streebog digest pass")
