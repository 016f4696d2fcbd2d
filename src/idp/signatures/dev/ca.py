"""The development CA (dev mode only): an ECDSA P-256 root whose key sits in a file under
``var_dir/dev-ca/`` and which certifies whoever asks, so that the qualified e-signature flow can
be tried without a real CA. Its certificates follow the FSB order 795 profile; their CRL and
OCSP pointers lead to this CA's responder, which the app mounts at ``DEV_CA_PATH``.

Start-up refuses it outside dev mode (``Settings.runs_dev_ca``): anyone with the file signs as
anyone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette

from idp.settings import DEV_CA_PATH
from idp.signatures.dev import pki
from idp.signatures.dev.keys import Issued
from idp.signatures.dev.responder import ResponderCA, build_responder
from idp.signatures.protocol import TrustedCA

CA_NAME = "dev"
FILE_NAME = "ca.pem"  # the key and the certificate in one file, so one rename publishes both


@dataclass(frozen=True)
class DevCA:
    root: Issued
    base_url: str

    @classmethod
    def load_or_create(cls, var_dir: Path, base_url: str) -> DevCA:
        """The CA kept in ``var_dir/dev-ca/``, made on first use. Safe when several processes
        start at once: each writes a complete file aside and links it into place; the one that
        loses reads the winner's."""
        directory = var_dir / "dev-ca"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / FILE_NAME
        if not path.exists():
            _publish(path, _new_root_pem())
        return cls(_read(path.read_bytes()), base_url.rstrip("/"))

    @property
    def certificate(self) -> bytes:
        """The root certificate (DER): the trust anchor dev mode adds."""
        return self.root.certificate

    @property
    def anchor(self) -> TrustedCA:
        return TrustedCA(
            fingerprint=hashlib.sha256(self.certificate).hexdigest(),
            certificate=self.certificate,
            name="idp development CA",
        )

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}{DEV_CA_PATH}/crl/{CA_NAME}.crl"

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}{DEV_CA_PATH}/ocsp/{CA_NAME}"

    def person_certificate(self, snils: str, surname: str, given_names: str) -> Issued:
        """A fresh key and a qualified (795 profile) certificate for it, valid for a day."""
        return pki.make_person(
            self.root,
            "p256",
            profile="ru",
            snils=snils,
            surname=surname,
            given_names=given_names,
            crl_url=self.crl_url,
            ocsp_url=self.ocsp_url,
            not_before=pki.now() - timedelta(minutes=5),
            not_after=pki.now() + timedelta(days=1),
        )

    def sign(self, content: bytes, snils: str, surname: str, given_names: str) -> bytes:
        """A detached CMS over ``content`` (DER, the signer's certificate inside) by a person
        certified on the spot."""
        return pki.sign_cms(content, self.person_certificate(snils, surname, given_names))

    def responder_app(self) -> Starlette:
        """CRL and OCSP for this CA (nothing is ever revoked), to mount at ``DEV_CA_PATH``."""
        ca = ResponderCA(name=CA_NAME, ca=self.root)
        return build_responder(lambda: (ca,))


def _new_root_pem() -> bytes:
    root = pki.make_root(
        "idp development CA",
        "p256",
        not_before=pki.now() - timedelta(days=1),
        not_after=pki.now() + timedelta(days=3650),
    )
    return root.private_key_pem() + root.pem


def _publish(path: Path, content: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".ca-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        # link() fails if the name exists, unlike rename(): the first process to get here wins.
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        os.unlink(temp)


def _read(content: bytes) -> Issued:
    key = serialization.load_pem_private_key(content, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the development CA's key is not an ECDSA key")
    certificate = x509.load_pem_x509_certificate(content)
    return Issued(certificate.public_bytes(serialization.Encoding.DER), key, "p256")
