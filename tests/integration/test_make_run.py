"""``make run`` and ``idp serve``: the listening port and ``IDP_ISSUER`` agree, and the server
says which URL to open once it answers.

The Makefile is run for real, with a stand-in ``.venv`` whose ``idp`` records how it was called
(the real one is run by the second test), so nothing is installed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from idp.settings import Settings
from tests.support.live import free_port
from tests.support.logout_kit import IDP, idp_env

ROOT = Path(__file__).resolve().parents[2]
RECORDING_IDP = """#!/bin/sh
echo "$* | issuer=$IDP_ISSUER | dev=$IDP_DEV_MODE" >> "$(dirname "$0")/calls"
"""


def _make_run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").touch()
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    idp = venv / "bin" / "idp"
    idp.write_text(RECORDING_IDP)
    idp.chmod(0o755)
    time.sleep(0.01)
    (venv / ".installed").touch()  # newer than pyproject.toml: make installs nothing
    base = {"PATH": "/usr/bin:/bin", **(env or {})}  # no IDP_ or PORT from this shell
    subprocess.run(
        ["make", "--no-print-directory", "run", *args],
        cwd=tmp_path,
        env=base,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return (venv / "bin" / "calls").read_text().splitlines()


@pytest.mark.parametrize(
    ("args", "env", "serve", "issuer"),
    [
        ((), {}, "serve", "http://127.0.0.1:8000"),
        (("PORT=8123",), {}, "serve --port 8123", "http://127.0.0.1:8123"),
        ((), {"PORT": "8124"}, "serve --port 8124", "http://127.0.0.1:8124"),
        # An issuer of one's own and no PORT: `idp serve` takes the issuer's port.
        ((), {"IDP_ISSUER": "http://127.0.0.1:9000"}, "serve", "http://127.0.0.1:9000"),
    ],
)
def test_make_run_keeps_the_port_and_the_issuer_in_agreement(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], serve: str, issuer: str
) -> None:
    calls = _make_run(tmp_path, *args, env=env)
    assert calls == [
        f"migrate | issuer={issuer} | dev=true",
        f"{serve} | issuer={issuer} | dev=true",
    ]


async def test_idp_serve_listens_on_the_issuers_port_and_says_when_it_is_ready(
    settings: Settings, migrated: str, tmp_path: Path
) -> None:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = idp_env(settings, IDP_ISSUER=issuer, IDP_DEV_MODE="true", IDP_VAR_DIR=str(tmp_path))
    process = await asyncio.create_subprocess_exec(
        *(IDP, "serve", "--no-access-log", "--log-level", "warning"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.decode() == f"idp is ready: open {issuer}/\n"
        async with httpx.AsyncClient(base_url=issuer) as http:  # ready means ready: no retry
            assert (await http.get("/readyz")).status_code == 200
            start = await http.get("/")
        assert start.status_code == 200
        assert f'href="{issuer}/demo/login"' in start.text
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def test_a_port_other_than_the_issuers_is_allowed_with_a_note(
    settings: Settings, migrated: str, tmp_path: Path
) -> None:
    issuer_port, port = free_port(), free_port()
    env = idp_env(settings, IDP_ISSUER=f"http://127.0.0.1:{issuer_port}", IDP_VAR_DIR=str(tmp_path))
    process = await asyncio.create_subprocess_exec(
        *(IDP, "serve", "--port", str(port), "--no-access-log", "--log-level", "warning"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        note = await asyncio.wait_for(process.stderr.readline(), 60)
        if note.startswith(b"dev mode: "):  # the start-up checks' warning comes first
            note = await asyncio.wait_for(process.stderr.readline(), 60)
        assert note.decode() == (
            f"idp: note: IDP_ISSUER is http://127.0.0.1:{issuer_port} "
            f"but this server listens on port {port}\n"
        )
        await asyncio.wait_for(process.stdout.readline(), 60)
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
