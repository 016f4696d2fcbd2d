"""Running the openssl command line in tests: the independent check on what the PKI kit makes,
and the maker of GOST material through OpenSSL's GOST engine (``scripts/ensure-gost-engine``)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from idp.signatures.dev.gost_pki import from_pkcs8
from idp.signatures.dev.keys import KEY_ALGOS, Issued, KeyAlgo
from idp.signatures.dev.pki import (
    KeyUsageName,
    Profile,
    make_crl,
    make_intermediate,
    make_person,
    make_root,
    now,
    sign_cms,
)
from idp.signatures.dev.responder import ResponderCA, build_responder
from idp.signatures.protocol import TrustedCA
from idp.signatures.trust.formats import checked
from idp.signatures.trust.listed import ListedCA
from idp.signatures.trust.service import ImportReport, import_parsed

# Loads the GOST engine for every openssl subcommand (several, e.g. crl and ocsp, have no
# -engine option) and makes its algorithms the defaults.
GOST_CONF = """\
openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
default_algorithms = ALL
"""


async def trust_ca(
    session: AsyncSession,
    certificate: bytes,
    *,
    name: str,
    source: str,
    now: datetime,
    kind: str = "certificates",
) -> ImportReport:
    """Trust one CA the way `idp trust import` does (a list of one certificate from
    ``source``, of the list kind ``kind``), in the caller's transaction."""
    return await import_parsed(
        session, checked(kind, [ListedCA(certificate, name)]), source, now=now
    )


def openssl(
    *args: str | Path, cwd: Path, gost: bool = False, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``openssl args`` in ``cwd``; with ``gost`` the GOST engine is loaded. Raises with
    openssl's stderr when it fails and ``check`` is set."""
    env = dict(os.environ)
    if gost:
        conf = cwd / "openssl-gost.cnf"
        if not conf.exists():
            conf.write_text(GOST_CONF)
        env["OPENSSL_CONF"] = str(conf)
    result = subprocess.run(
        ["openssl", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {args[0]} failed: {result.stdout}\n{result.stderr}")
    return result


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


# --- GOST material made by OpenSSL's GOST engine ------------------------------------------------

_GOST_REQ_CONF = """\
[req]
distinguished_name = dn
prompt = no
string_mask = utf8only
[dn]
C = RU
O = OpenSSL GOST CA
CN = OpenSSL GOST CA
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[user_ext]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectSignTool = OpenSSL GOST engine
issuerSignTool = signTool:OpenSSL GOST engine,cATool:OpenSSL,signToolCert:none,cAToolCert:none
certificatePolicies = 1.2.643.100.113.1
"""


@dataclass(frozen=True)
class OpenSSLGostMaterial:
    """GOST R 34.10-2012 (256, CryptoPro-A CA, CryptoPro-B user) made by OpenSSL's engine."""

    ca: Issued  # the CA certificate with its key read back into the kit (it can sign CRLs)
    user: Issued  # the user certificate (SNILS, INN, SN, GN, CN) and its key
    content: bytes
    signature: bytes  # DER ContentInfo: detached CMS, ``-cades`` (Streebog signingCertificateV2)
    crl: bytes  # an empty CRL of the CA, signed by the kit with the CA's key
    snils: str = "11223344595"
    surname: str = "Петров"
    given_names: str = "Пётр Петрович"


def openssl_gost_material(
    tmp_path: Path, *, crl_url: str | None = None, content: bytes = b"idp challenge (openssl)"
) -> OpenSSLGostMaterial:
    """A GOST CA, a user certificate with SNILS and a CMS signature over ``content``, all made by
    ``openssl ... -engine gost`` (the user certificate names ``crl_url`` as its CRL DP)."""
    conf = tmp_path / "gost-req.cnf"
    text = _GOST_REQ_CONF
    if crl_url is not None:
        text += f"crlDistributionPoints = URI:{crl_url}\n"
    conf.write_text(text)
    write(tmp_path, "content.bin", content)
    steps: list[tuple[str, ...]] = [
        ("genpkey", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:A", "-out", "ca.key"),
        ("req", "-x509", "-new", "-key", "ca.key", "-config", str(conf), "-extensions", "ca_ext",
         "-md_gost12_256", "-days", "30", "-utf8", "-out", "ca.pem"),
        ("genpkey", "-algorithm", "gost2012_256", "-pkeyopt", "paramset:B", "-out", "user.key"),
        ("req", "-new", "-key", "user.key", "-config", str(conf), "-utf8", "-subj",
         "/C=RU/SNILS=11223344595/INN=500100732259/SN=Петров/GN=Пётр Петрович"
         "/CN=Петров Пётр Петрович", "-out", "user.csr"),
        ("x509", "-req", "-in", "user.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
         "4242", "-extfile", str(conf), "-extensions", "user_ext", "-md_gost12_256", "-days", "30",
         "-outform", "DER", "-out", "user.der"),
        ("cms", "-sign", "-binary", "-in", "content.bin", "-signer", "user.der", "-inkey",
         "user.key", "-md", "md_gost12_256", "-cades", "-outform", "DER", "-out", "user.p7s"),
        ("x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"),
        ("pkey", "-in", "ca.key", "-outform", "DER", "-out", "ca.key.der"),
        ("pkey", "-in", "user.key", "-outform", "DER", "-out", "user.key.der"),
    ]  # fmt: skip
    for step in steps:
        openssl(*step, cwd=tmp_path, gost=True)
    ca = Issued(
        (tmp_path / "ca.der").read_bytes(),
        from_pkcs8((tmp_path / "ca.key.der").read_bytes()),
        "gost256",
    )
    user = Issued(
        (tmp_path / "user.der").read_bytes(),
        from_pkcs8((tmp_path / "user.key.der").read_bytes()),
        "gost256",
    )
    return OpenSSLGostMaterial(
        ca=ca,
        user=user,
        content=content,
        signature=(tmp_path / "user.p7s").read_bytes(),
        crl=make_crl(ca, []),
    )


# --- the session's test PKI ----------------------------------------------------------------------

Revocation = Literal["both", "crl", "ocsp", "none"]
SNILS = "11223344595"
INN = "500100732259"


class TestPki:
    """Roots and intermediates for every algorithm, persons on demand, and their CRLs and OCSP
    answers served at ``base_url`` (the ``test_pki`` fixture runs :attr:`app` on loopback).

    Everything is made on first use and kept: GOST keys in pure Python cost a little. CA names
    in URLs: ``root-<algo>``, ``ca-<algo>`` (the intermediate), ``untrusted-<algo>``.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._lock = threading.Lock()
        self._cas: dict[str, Issued] = {}
        self._revoked: dict[str, dict[int, datetime]] = {}
        self._issued: dict[str, set[int]] = {}
        self._persons: dict[tuple[object, ...], Issued] = {}
        self.app = build_responder(self._responder_cas)

    # CAs

    def root(self, algo: KeyAlgo = "p256") -> Issued:
        return self._ca(f"root-{algo}", lambda: make_root(f"idp test root {algo}", algo))

    def intermediate(self, algo: KeyAlgo = "p256") -> Issued:
        def make() -> Issued:
            root = self.root(algo)
            return make_intermediate(
                root, f"idp test CA {algo}", algo, **self._urls(f"root-{algo}", "both")
            )

        return self._ca(f"ca-{algo}", make)

    def untrusted_root(self, algo: KeyAlgo = "p256") -> Issued:
        return self._ca(f"untrusted-{algo}", lambda: make_root(f"untrusted root {algo}", algo))

    root_rsa = property(lambda self: self.root("rsa2048"))
    root_ecdsa = property(lambda self: self.root("p256"))
    root_gost256 = property(lambda self: self.root("gost256"))
    root_gost512 = property(lambda self: self.root("gost512"))
    intermediate_rsa = property(lambda self: self.intermediate("rsa2048"))
    intermediate_ecdsa = property(lambda self: self.intermediate("p256"))
    intermediate_gost256 = property(lambda self: self.intermediate("gost256"))
    intermediate_gost512 = property(lambda self: self.intermediate("gost512"))

    @property
    def anchors(self) -> tuple[TrustedCA, ...]:
        """The trusted roots, for every algorithm (not the untrusted ones)."""
        return tuple(self.anchor(algo) for algo in KEY_ALGOS)

    def anchor(self, algo: KeyAlgo) -> TrustedCA:
        der = self.root(algo).certificate
        return TrustedCA(
            fingerprint=hashlib.sha256(der).hexdigest(),
            certificate=der,
            name=f"idp test root {algo}",
        )

    # persons

    def person(
        self,
        algo: KeyAlgo = "p256",
        profile: Profile = "ru",
        *,
        revoked: bool = False,
        expired: bool = False,
        not_yet_valid: bool = False,
        untrusted: bool = False,
        revocation: Revocation = "both",
        key_usage: tuple[KeyUsageName, ...] = ("digital_signature", "non_repudiation"),
        snils: str | None = SNILS,
        surname: str = "Иванов",
        given_names: str = "Иван Иванович",
        inn: str | None = INN,
        person_id: str = "PNOEE-38001085718",
    ) -> Issued:
        """A person's certificate (made once per set of arguments). ``revoked``: on the CA's
        CRL and OCSP answers; ``untrusted``: issued by a root not in :attr:`anchors`;
        ``revocation``: which pointers (CRL DP, AIA OCSP) it carries."""
        key = (algo, profile, revoked, expired, not_yet_valid, untrusted, revocation, key_usage,
               snils, surname, given_names, inn, person_id)  # fmt: skip
        with self._lock:
            if key in self._persons:
                return self._persons[key]
        ca_name = f"untrusted-{algo}" if untrusted else f"ca-{algo}"
        issuer = self.untrusted_root(algo) if untrusted else self.intermediate(algo)
        start = now() - timedelta(days=1)
        end = start + timedelta(days=365)
        if expired:
            start, end = now() - timedelta(days=30), now() - timedelta(days=1)
        if not_yet_valid:
            start, end = now() + timedelta(days=1), now() + timedelta(days=30)
        issued = make_person(
            issuer,
            algo,
            profile=profile,
            snils=None if profile == "eidas" else snils,
            surname=surname,
            given_names=given_names,
            inn=None if profile == "eidas" else inn,
            person_id=person_id if profile == "eidas" else None,
            key_usage=key_usage,
            not_before=start,
            not_after=end,
            **self._urls(ca_name, revocation),
        )
        with self._lock:
            self._issued.setdefault(ca_name, set()).add(issued.serial)
            if revoked:
                self._revoked.setdefault(ca_name, {})[issued.serial] = now() - timedelta(hours=1)
            return self._persons.setdefault(key, issued)

    def chain(self, person: Issued) -> tuple[bytes, ...]:
        """The CA certificates between ``person`` and its root (the root left out)."""
        issuer = person.parsed.issuer
        for name, ca in self._cas.items():
            if name.startswith("ca-") and ca.parsed.subject == issuer:
                return (ca.certificate,)
        return ()

    def sign(self, content: bytes, person: Issued, **options: Any) -> bytes:
        """A detached CMS by ``person`` with its chain inside (``options``: see ``sign_cms``)."""
        options.setdefault("chain", self.chain(person))
        return sign_cms(content, person, **options)

    def revoke(self, person: Issued, at: datetime | None = None) -> None:
        """Put ``person`` on its CA's CRL and OCSP answers from now on."""
        for name, ca in self._cas.items():
            if ca.parsed.subject == person.parsed.issuer:
                with self._lock:
                    self._revoked.setdefault(name, {})[person.serial] = at or now()

    # the responder

    def crl_url(self, ca_name: str) -> str:
        return f"{self.base_url}/crl/{ca_name}.crl"

    def ocsp_url(self, ca_name: str) -> str:
        return f"{self.base_url}/ocsp/{ca_name}"

    @property
    def requests(self) -> Counter[tuple[str, str]]:
        """Requests served, by ``("crl" | "ocsp", ca_name)``."""
        counts: Counter[tuple[str, str]] = self.app.state.requests
        return counts

    def _urls(self, ca_name: str, revocation: Revocation) -> dict[str, str | None]:
        return {
            "crl_url": self.crl_url(ca_name) if revocation in ("both", "crl") else None,
            "ocsp_url": self.ocsp_url(ca_name) if revocation in ("both", "ocsp") else None,
        }

    def _ca(self, name: str, make: Callable[[], Issued]) -> Issued:
        with self._lock:
            if name in self._cas:
                return self._cas[name]
        made = make()  # outside the lock: an intermediate asks for its root
        with self._lock:
            return self._cas.setdefault(name, made)

    def _responder_cas(self) -> list[ResponderCA]:
        with self._lock:
            return [
                ResponderCA(
                    name=name,
                    ca=ca,
                    revoked=dict(self._revoked.get(name, {})),
                    # The roots know their intermediates; the CAs know their persons.
                    issued=None if name.startswith("root-") else set(self._issued.get(name, ())),
                )
                for name, ca in self._cas.items()
            ]
