"""The kit's keys: one small set of operations over pyca (RSA, ECDSA P-256) and GOST keys, so
that certificates, CRLs, OCSP responses and CMS are built by the same code for all of them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, get_args

from asn1crypto import algos, core, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from idp.signatures import oids
from idp.signatures.dev import gost_pki
from idp.signatures.dev.gost_pki import GostKey

KeyAlgo = Literal["rsa2048", "p256", "gost256", "gost512"]
KEY_ALGOS: tuple[KeyAlgo, ...] = get_args(KeyAlgo)
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | GostKey

_PYCA_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
DIGEST_OIDS = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
    "streebog256": oids.STREEBOG_256,
    "streebog512": oids.STREEBOG_512,
}


@dataclass(frozen=True)
class Issued:
    """A certificate (DER) and its private key."""

    certificate: bytes
    key: object
    algo: KeyAlgo

    @property
    def parsed(self) -> x509.Certificate:
        return x509.Certificate.load(self.certificate)

    @property
    def serial(self) -> int:
        return int(self.parsed.serial_number)

    @property
    def pem(self) -> bytes:
        return pem("CERTIFICATE", self.certificate)

    def private_key_pem(self) -> bytes:
        """PKCS#8 PEM (GOST keys in the form OpenSSL's GOST engine reads)."""
        key = private_key(self)
        if isinstance(key, GostKey):
            return pem("PRIVATE KEY", key.pkcs8())
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def pem(label: str, der: bytes) -> bytes:
    import base64

    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def new_key(algo: KeyAlgo, *, gost_curve: gost_pki.GostCurve | None = None) -> PrivateKey:
    if algo == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algo == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algo == "gost256":
        return gost_pki.generate(gost_curve or "cryptopro-a")
    return gost_pki.generate(gost_curve or "tc26-512-a")


def private_key(issued: Issued) -> PrivateKey:
    key = issued.key
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | GostKey):
        raise TypeError("not a key of the kit")
    return key


def public_key_info(key: PrivateKey) -> bytes:
    """The DER SubjectPublicKeyInfo of ``key``."""
    if isinstance(key, GostKey):
        return key.public_key_info()
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def default_digest(key: PrivateKey) -> str:
    if isinstance(key, GostKey):
        return f"streebog{key.bits}"
    return "sha256"


def digest(name: str, data: bytes) -> bytes:
    if name.startswith("streebog"):
        return gost_pki.streebog(int(name.removeprefix("streebog")), data)
    return hashlib.new(name, data).digest()


def signature_algorithm(
    key: PrivateKey, digest_name: str | None = None
) -> algos.SignedDigestAlgorithm:
    """The AlgorithmIdentifier of a signature over certificates, CRLs and OCSP responses."""
    if isinstance(key, GostKey):
        return algos.SignedDigestAlgorithm({"algorithm": key.signature_oid})
    name = digest_name or "sha256"
    if isinstance(key, rsa.RSAPrivateKey):
        return algos.SignedDigestAlgorithm({"algorithm": f"{name}_rsa", "parameters": core.Null()})
    return algos.SignedDigestAlgorithm({"algorithm": f"{name}_ecdsa"})


def cms_signature_algorithm(key: PrivateKey, digest_name: str) -> algos.SignedDigestAlgorithm:
    """SignerInfo.signatureAlgorithm as the usual signers write it: the key's algorithm for RSA
    and GOST (CryptoPro, OpenSSL), ecdsa-with-SHAx for ECDSA."""
    if isinstance(key, GostKey):
        return algos.SignedDigestAlgorithm({"algorithm": key.key_oid})
    if isinstance(key, rsa.RSAPrivateKey):
        return algos.SignedDigestAlgorithm(
            {"algorithm": "rsassa_pkcs1v15", "parameters": core.Null()}
        )
    return algos.SignedDigestAlgorithm({"algorithm": f"{digest_name}_ecdsa"})


def sign(key: PrivateKey, data: bytes, digest_name: str | None = None) -> bytes:
    """The signature value over ``data`` (hashed with ``digest_name``, or the key's default)."""
    if isinstance(key, GostKey):
        return key.sign(data)
    algorithm = _PYCA_DIGESTS[digest_name or "sha256"]()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    return key.sign(data, ec.ECDSA(algorithm))
