"""Benchmark: back-channel logout fan-out to N relying parties that each answer after L ms.

Measures the time from sending the logout request to the last logout token arriving at the
fake RPs, and compares it with the same measurement for one RP (N = 1) and with the physical
floor L + N x (one ES256 signature). Bounded: at most 1000 RPs, one logout per (N, L) pair plus
one per L for N = 1 and one warm-up, loopback only.

    scripts/with-postgres .venv/bin/python bench/fanout.py --n 10 100 1000 --latency 50 200
    scripts/with-postgres .venv/bin/python bench/fanout.py --tls --n 100 --latency 50 200

With --tls the RPs speak https with a certificate for 127.0.0.1 from a throwaway CA made for the
run (tests/support/tls_ca.py), which the server trusts through IDP_LOGOUT__CA_FILE.

It starts its own `idp serve --workers 2` on the PostgreSQL that scripts/with-postgres
provides (IDP_TEST_POSTGRES_URL), or on SQLite with --sqlite (one worker).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from idp.accounts.service import NewAccount, create_by_operator, prepare_operator_account
from idp.clients.service import NewClient, create_client
from idp.context import Context
from idp.oidc.pkce import s256
from idp.settings import LogoutSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.tls_ca when run as bench/fanout.py

from tests.support.tls_ca import LocalCA  # noqa: E402

BIN = Path(sys.executable).parent
PASSWORD = "Fanout-Secret-42"


def free_port_block(count: int) -> int:
    """A run of `count` consecutive free ports (probed, not reserved)."""
    offset = secrets.randbelow(10000)
    for start in range(20000 + offset, 60000 - count, count + 7):
        ok = True
        for port in range(start, start + count):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return start
    raise RuntimeError("no free port block")


def one_signature_seconds() -> float:
    key = ec.generate_private_key(ec.SECP256R1())
    claims = {"iss": "x", "aud": "y", "iat": 1, "exp": 2, "jti": "z", "sid": "s", "sub": "u"}
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        jwt.encode(claims, key, algorithm="ES256", headers={"typ": "logout+jwt", "kid": "k"})
    return (time.perf_counter() - started) / rounds


def idp(env: dict[str, str], *args: str) -> dict[str, str]:
    out = subprocess.run(
        [str(BIN / "idp"), *args, "--json"], env=env, check=True, capture_output=True, text=True
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


async def login_session(http: httpx.AsyncClient, client_id: str, redirect: str, login: str) -> str:
    """Log in through the pages for the first client; returns its ID token."""
    verifier = secrets.token_urlsafe(48)
    challenge = s256(verifier)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
        "nonce": "n",
    }
    first = await http.get("/authorize?" + urlencode(params))
    page = await http.get(first.headers["location"])
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = await http.post(action, data={"csrf_token": token, "login": login, "password": PASSWORD})
    code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    tokens = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    return str(tokens.json()["id_token"])


async def join(http: httpx.AsyncClient, client_id: str, redirect: str) -> None:
    """SSO authorize for one more client, so the session counts it as a participant."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    response = await http.get("/authorize?" + urlencode(params))
    assert response.headers["location"].startswith(redirect), response.text[:200]


@dataclass(frozen=True)
class Tls:
    ca: LocalCA
    chain: Path
    key: Path


def measure(
    base: str, env: dict[str, str], n: int, latency: int, tls: Tls | None
) -> dict[str, float]:
    first_port = free_port_block(n)
    certificate = [str(tls.chain), str(tls.key)] if tls else []
    rps = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "fanout_rps.py"),
            str(first_port),
            str(n),
            str(latency),
            *certificate,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert rps.stdout is not None
        assert rps.stdout.readline().startswith("READY")
        return asyncio.run(_measure(base, env, n, first_port, tls))
    finally:
        rps.terminate()
        rps.wait(timeout=10)


async def _measure(
    base: str, env: dict[str, str], n: int, first_port: int, tls: Tls | None
) -> dict[str, float]:
    # Set-up goes through the services the CLI uses, in-process: 1000 CLI runs take minutes.
    settings = Settings(
        issuer=env["IDP_ISSUER"],
        database_url=env["IDP_DATABASE_URL"],
        var_dir=env["IDP_VAR_DIR"],
        key_encryption_key=env["IDP_KEY_ENCRYPTION_KEY"],
        logout=LogoutSettings(block_private_addresses=False),  # the RPs are on loopback
    )
    scheme = "https" if tls else "http"
    ctx = Context.build(settings)
    try:
        clients = []
        for i in range(n):
            redirect = f"http://127.0.0.1:{first_port + i}/cb"
            created = await create_client(
                ctx,
                NewClient(
                    name=f"RP {i}",
                    redirect_uris=[redirect],
                    auth_method="none",
                    require_consent=False,
                    backchannel_logout_uri=f"{scheme}://127.0.0.1:{first_port + i}/bc",
                    scopes=["openid"],
                ),
            )
            clients.append((created.client_id, redirect))
        phone = "+7999" + "".join(secrets.choice("0123456789") for _ in range(7))
        ready = await prepare_operator_account(
            ctx,
            NewAccount(
                first_name="Bench",
                last_name="Mark",
                phone=phone,
                password=PASSWORD,
                level="simplified",
            ),
        )
        async with ctx.db.transaction() as session:
            await create_by_operator(session, ctx, ready)
    finally:
        await ctx.close()
    stats_url = f"{scheme}://127.0.0.1:{first_port}/stats"
    verify = tls.ca.client_context() if tls else True
    async with (
        httpx.AsyncClient(base_url=base, timeout=60) as http,
        httpx.AsyncClient(verify=verify, timeout=60) as rp_http,
    ):
        id_token = await login_session(http, *clients[0], login=phone)
        for client_id, redirect in clients[1:]:
            await join(http, client_id, redirect)
        await rp_http.get(stats_url)  # reset arrivals
        sent = time.time()
        response = await http.get("/logout", params={"id_token_hint": id_token})
        answered = time.time()
        assert response.status_code in (200, 303), response.status_code
        arrivals: list[float] = []
        deadline = time.time() + 60
        while len(arrivals) < n and time.time() < deadline:
            await asyncio.sleep(0.05)
            stats = await rp_http.get(stats_url)
            arrivals += stats.json()
    if len(arrivals) < n:
        raise RuntimeError(f"only {len(arrivals)} of {n} logout tokens arrived")
    return {
        "last_token_ms": (max(arrivals) - sent) * 1000,
        "first_token_ms": (min(arrivals) - sent) * 1000,
        "logout_response_ms": (answered - sent) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--latency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--tls", action="store_true", help="RPs speak https (a throwaway CA)")
    args = parser.parse_args()
    if max(args.n) > 1000:
        parser.error("at most 1000 relying parties")
    var = tempfile.mkdtemp(prefix="idp-bench-")
    tls = None
    if args.tls:
        ca = LocalCA.create(Path(var) / "ca")
        tls = Tls(ca, *ca.issue("127.0.0.1"))
    port = free_port_block(1)
    env = dict(os.environ)
    env.update(
        {
            "IDP_ISSUER": f"http://127.0.0.1:{port}",
            "IDP_VAR_DIR": var,
            "IDP_DATABASE_URL": f"sqlite+aiosqlite:///{var}/idp.db"
            if args.sqlite
            else os.environ["IDP_TEST_POSTGRES_URL"],
            # Every instance on one PostgreSQL shares one key-encryption key (required there).
            "IDP_KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "IDP_LOGOUT__BLOCK_PRIVATE_ADDRESSES": "false",
            "IDP_THROTTLE__PER_ADDRESS_FREE_FAILURES": "1000000",
            # Plain http on loopback: refused outside dev mode (idp.startup_checks); dev mode
            # changes nothing on the logout path measured here.
            "IDP_DEV_MODE": "true",
        }
    )
    if tls:
        env["IDP_LOGOUT__CA_FILE"] = str(tls.ca.ca_file)
        env["SSL_CERT_FILE"] = str(tls.ca.ca_file)  # for builds before that setting existed
    idp(env, "migrate")
    workers = "1" if args.sqlite else "2"
    server = subprocess.Popen(
        [
            str(BIN / "idp"),
            "serve",
            "--port",
            str(port),
            "--workers",
            workers,
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        base = env["IDP_ISSUER"]
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        signature = one_signature_seconds()
        print(f"one ES256 logout-token signature: {signature * 1e6:.0f} µs")
        print(f"RPs over {'https' if tls else 'http'}")
        print(
            "| N | L (ms) | last token handled (ms) | one RP (ms) | ratio to one RP "
            "| floor L + N·sig (ms) | ratio to floor | logout response (ms) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        measure(base, env, 5, 10, tls)  # warm-up
        one_rp = {latency: measure(base, env, 1, latency, tls) for latency in args.latency}
        for n in args.n:
            for latency in args.latency:
                r = measure(base, env, n, latency, tls)
                floor = latency + n * signature * 1000
                single = one_rp[latency]["last_token_ms"]
                print(
                    f"| {n} | {latency} | {r['last_token_ms']:.0f} | {single:.0f} | "
                    f"{r['last_token_ms'] / single:.2f} | {floor:.0f} | "
                    f"{r['last_token_ms'] / floor:.2f} | {r['logout_response_ms']:.0f} |",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
