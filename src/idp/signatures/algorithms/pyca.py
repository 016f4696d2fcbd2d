"""RSA (PKCS #1 v1.5 and PSS) and ECDSA with SHA-2, verified by ``cryptography`` (RFC 8017,
RFC 5758, RFC 4055). SHA-1 and MD5 are not served: a signature using them is refused as an
unknown algorithm."""

from __future__ import annotations

from typing import cast

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from idp.signatures.oids import RSA_PSS
from idp.signatures.protocol import AlgorithmSetup, UnsupportedAlgorithm

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_HASH_NAMES = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}

RSA_KEY = "1.2.840.113549.1.1.1"  # rsaEncryption: CMS names the key, the digest comes apart
EC_KEY = "1.2.840.10045.2.1"  # id-ecPublicKey, as some CMS signers name ECDSA
MIN_RSA_BITS = 2048
CURVES = frozenset(
    {
        "secp256r1",
        "secp384r1",
        "secp521r1",
        "brainpoolP256r1",
        "brainpoolP384r1",
        "brainpoolP512r1",
    }
)
_RSA_WITH = {
    "1.2.840.113549.1.1.11": "2.16.840.1.101.3.4.2.1",
    "1.2.840.113549.1.1.12": "2.16.840.1.101.3.4.2.2",
    "1.2.840.113549.1.1.13": "2.16.840.1.101.3.4.2.3",
}
_ECDSA_WITH = {
    "1.2.840.10045.4.3.2": "2.16.840.1.101.3.4.2.1",
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
    "1.2.840.10045.4.3.4": "2.16.840.1.101.3.4.2.3",
}


class PycaAlgorithm:
    name = "pyca"
    signature_oids = frozenset({RSA_KEY, RSA_PSS, EC_KEY, *_RSA_WITH, *_ECDSA_WITH})
    digest_oids = frozenset(_HASHES)

    def digest(self, digest_oid: str, data: bytes) -> bytes:
        hasher = hashes.Hash(_hash(digest_oid)())
        hasher.update(data)
        return hasher.finalize()

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
        algorithm = algos.SignedDigestAlgorithm.load(signature_algorithm)
        oid = algorithm["algorithm"].dotted
        if oid not in self.signature_oids:
            raise UnsupportedAlgorithm(oid)
        try:
            key = serialization.load_der_public_key(public_key_info)
        except (ValueError, TypeError) as exc:
            raise UnsupportedAlgorithm("the public key is not RSA or ECDSA") from exc
        _check_strength(key)
        try:
            if oid == RSA_PSS:
                return self._pss(key, algorithm, signature, data, prehashed)
            digest = _hash(_RSA_WITH.get(oid) or _ECDSA_WITH.get(oid) or _required(digest_oid))()
            signed: bytes | None = data
            chosen: hashes.HashAlgorithm | utils.Prehashed = digest
            if prehashed:
                chosen = utils.Prehashed(digest)
            if oid in _ECDSA_WITH or oid == EC_KEY:
                if not isinstance(key, ec.EllipticCurvePublicKey):
                    raise UnsupportedAlgorithm("an ECDSA signature with a key of another kind")
                key.verify(signature, cast(bytes, signed), ec.ECDSA(chosen))
            else:
                if not isinstance(key, rsa.RSAPublicKey):
                    raise UnsupportedAlgorithm("an RSA signature with a key of another kind")
                key.verify(signature, cast(bytes, signed), padding.PKCS1v15(), chosen)
        except InvalidSignature:
            return False
        return True

    def _pss(
        self,
        key: object,
        algorithm: algos.SignedDigestAlgorithm,
        signature: bytes,
        data: bytes,
        prehashed: bool,
    ) -> bool:
        if not isinstance(key, rsa.RSAPublicKey):
            raise UnsupportedAlgorithm("an RSA-PSS signature with a key of another kind")
        params = algorithm["parameters"]
        hash_oid = _HASH_NAMES.get(params["hash_algorithm"]["algorithm"].native, "")
        mgf = params["mask_gen_algorithm"]
        mgf_hash = _HASH_NAMES.get(mgf["parameters"]["algorithm"].native, "")
        if mgf["algorithm"].native != "mgf1" or mgf_hash != hash_oid:
            raise UnsupportedAlgorithm("RSA-PSS with another mask generation than MGF1")
        digest = _hash(hash_oid)()
        chosen: hashes.HashAlgorithm | utils.Prehashed = (
            utils.Prehashed(digest) if prehashed else digest
        )
        pss = padding.PSS(padding.MGF1(digest), params["salt_length"].native)
        key.verify(signature, data, pss, chosen)
        return True


def _check_strength(key: object) -> None:
    """Keys idp accepts: RSA of 2048 bits or more (ETSI TS 119 312 §6.2.2, BSI TR-02102-1), EC
    on the NIST and Brainpool curves the qualified-certificate rules name. Another is not a
    failed signature but one idp does not serve: ``UnsupportedAlgorithm``."""
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise UnsupportedAlgorithm(f"an RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name not in CURVES:
        raise UnsupportedAlgorithm(f"the elliptic curve {key.curve.name}")


def _required(digest_oid: str | None) -> str:
    if digest_oid is None:
        raise UnsupportedAlgorithm("the signature algorithm names no digest and none was given")
    return digest_oid


def _hash(oid: str) -> type[hashes.HashAlgorithm]:
    found = _HASHES.get(oid)
    if found is None:
        raise UnsupportedAlgorithm(oid)
    return found


def build(setup: AlgorithmSetup) -> PycaAlgorithm:
    return PycaAlgorithm()
