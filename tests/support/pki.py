"""Running the openssl command line in tests: the independent check on what the PKI kit makes,
and the maker of GOST material through OpenSSL's GOST engine (``scripts/ensure-gost-engine``)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from idp.signatures.dev.gost_pki import from_pkcs8
from idp.signatures.dev.keys import Issued
from idp.signatures.dev.pki import make_crl

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
