"""Running the openssl command line in tests: the independent check on what the PKI kit makes,
and the maker of GOST material through OpenSSL's GOST engine (``scripts/ensure-gost-engine``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
