"""Benchmark: registry checks through the job queue, and the time from "save my data" to
"standard".

1. **Throughput**: `--checks` registry checks queued at once (half pension fund, half interior
   ministry: one round of two checks per account), the simulator answering at once (latency 0),
   run by one `idp worker` process and then by two, on PostgreSQL; checks per second from the
   workers' start to the last check settled (each check is a submit, at least one poll, and
   the settle transaction with the promotion of its account).
2. **Journey**: `idp serve` and the simulator with `--journey-latency` (50 ms) before an answer;
   `--journeys` people one after the other log in over the REST API, `PUT` their data and poll
   `GET /api/v1/me/verifications` every 20 ms until the level is `standard`; the time from the
   PUT's answer to the first poll that sees `standard`.

    scripts/with-postgres .venv/bin/python bench/verification.py --checks 2000 --journeys 30

It starts its own simulator (`idp registry-sim`), workers and server on the PostgreSQL that
scripts/with-postgres provides (IDP_TEST_POSTGRES_URL); nothing else runs against the database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from idp.accounts.service import NewAccount, create_by_operator, prepare_operator_account
from idp.context import Context
from idp.db.migrate import upgrade
from idp.db.models import Account, RegistryCheck
from idp.levels.personal_data import service as personal_data
from idp.levels.personal_data.validation import parse
from idp.levels.verification import rounds
from idp.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support when run as bench/verification.py

from tests.support.factories import random_snils  # noqa: E402
from tests.support.live import free_port  # noqa: E402

BIN = Path(sys.executable).parent
PASSWORD = "Bench-Registry-42"


@contextmanager
def process(args: list[str], env: dict[str, str], ready: str) -> Iterator[subprocess.Popen[str]]:
    """A child process, waited for until a line of its output contains ``ready``; its output is
    then drained in a thread so that a full pipe never blocks it."""
    child = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if ready in line:
                break
        else:
            raise RuntimeError(f"{' '.join(args[1:3])} exited: {child.wait()}")
        threading.Thread(target=child.stdout.read, daemon=True).start()
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()


def simulator(env: dict[str, str], latency: float) -> tuple[str, list[str]]:
    port = free_port()
    args = [str(BIN / "idp"), "registry-sim", "--port", str(port), "--latency", str(latency)]
    return f"http://127.0.0.1:{port}", [*args, "--log-level", "warning"]


def environment(database_url: str, var_dir: str, sim_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "IDP_DEV_MODE": "1",  # the dev sink for the notices; the registry is set explicitly
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_DATABASE_URL": database_url,
        "IDP_VAR_DIR": var_dir,
        "IDP_KEY_ENCRYPTION_KEY": os.environ.get("IDP_KEY_ENCRYPTION_KEY", "")
        or secrets.token_urlsafe(32),
        "IDP_REGISTRIES__HTTP__BASE_URL": sim_url,
        "IDP_REGISTRIES__SERVE_SIMULATOR": "false",
        "IDP_REGISTRIES__POLL_INTERVAL": "0.02",
        "IDP_REGISTRIES__ANSWER_WAIT_BASE": "0.01",
        "IDP_REGISTRIES__ANSWER_WAIT_MAX": "0.05",
        "IDP_REGISTRIES__BATCH_SIZE": "100",
        "IDP_JOBS__STOP_GRACE": "1",
    }


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        issuer=env["IDP_ISSUER"],
        database_url=env["IDP_DATABASE_URL"],
        var_dir=Path(env["IDP_VAR_DIR"]),
        key_encryption_key=env["IDP_KEY_ENCRYPTION_KEY"],
        dev_mode=True,
    )


async def queue_checks(settings: Settings, accounts: int) -> None:
    """``accounts`` simplified accounts, each with its data saved through the service (a round of
    two checks), in a few large transactions (the set-up is not what is measured)."""
    ctx = Context.build(settings)
    try:
        now = ctx.clock.now()
        for start in range(0, accounts, 250):
            async with ctx.db.transaction() as session:
                for _ in range(start, min(accounts, start + 250)):
                    account_id = uuid.uuid4()
                    session.add(
                        Account(
                            id=account_id,
                            sub=str(uuid.uuid4()),
                            first_name="Анна",
                            last_name="Петрова",
                            middle_name=None,
                            level="simplified",
                            status="active",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    await session.flush()
                    data = parse(body(), today=now.date())
                    await personal_data.save(session, ctx, account_id, data, at=now)
    finally:
        await ctx.close()


def body() -> dict[str, str]:
    """Data the simulator accepts (it matches what it does not know), without an INN."""
    return {
        "last_name": "Петрова",
        "first_name": "Анна",
        "middle_name": "Сергеевна",
        "sex": "female",
        "birth_date": "1990-05-17",
        "birth_place": "г. Москва",
        "citizenship": "RUS",
        "document_kind": "ru_passport",
        "document_series": "4506",
        "document_number": f"{secrets.randbelow(900000) + 100000}",
        "document_issued_on": "2010-06-01",
        "document_issuer_code": "770-001",
        "document_issuer": "ОВД района Арбат г. Москвы",
        "snils": random_snils(),
    }


async def wait_settled(settings: Settings, within: float) -> int:
    """Poll (every 50 ms, one connection) until every check has settled; how many there are."""
    ctx = Context.build(settings)
    deadline = time.monotonic() + within
    try:
        while True:
            async with ctx.db.read() as session:
                total = int(
                    await session.scalar(select(func.count()).select_from(RegistryCheck)) or 0
                )
                settled = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(RegistryCheck)
                        .where(RegistryCheck.state.in_(rounds.FINAL_STATES))
                    )
                    or 0
                )
            if settled >= total:
                return total
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {settled} of {total} checks settled")
            await asyncio.sleep(0.05)
    finally:
        await ctx.close()


async def wipe(settings: Settings) -> None:
    ctx = Context.build(settings)
    try:
        async with ctx.db.transaction() as session:
            await session.execute(text("DELETE FROM jobs"))
            await session.execute(text("DELETE FROM accounts"))  # cascades to data and checks
    finally:
        await ctx.close()


def throughput(env: dict[str, str], checks: int, workers: int) -> dict[str, float]:
    settings = settings_of(env)
    asyncio.run(wipe(settings))
    asyncio.run(queue_checks(settings, checks // 2))
    with ExitStack() as stack:
        started = time.perf_counter()
        for _ in range(workers):
            stack.enter_context(process([str(BIN / "idp"), "worker"], env, "running"))
        total = asyncio.run(wait_settled(settings, 600))
        elapsed = time.perf_counter() - started
    return {"checks": total, "seconds": elapsed, "per_second": total / elapsed}


async def _journeys(base: str, settings: Settings, count: int) -> list[float]:
    ctx = Context.build(settings)
    people = []
    try:
        for _ in range(count):
            phone = "+7999" + "".join(secrets.choice("0123456789") for _ in range(7))
            ready = await prepare_operator_account(
                ctx,
                NewAccount(
                    first_name="Анна",
                    last_name="Петрова",
                    phone=phone,
                    password=PASSWORD,
                    level="simplified",
                ),
            )
            async with ctx.db.transaction() as session:
                await create_by_operator(session, ctx, ready)
            people.append(phone)
    finally:
        await ctx.close()
    times = []
    for phone in people:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            csrf = (await http.get("/api/v1/csrf")).json()["csrf_token"]
            headers = {"X-CSRF-Token": csrf}
            login = await http.post(
                "/api/v1/login", json={"login": phone, "password": PASSWORD}, headers=headers
            )
            assert login.status_code == 200, login.text
            data = body()
            saved = await http.put("/api/v1/me/personal-data", json=data, headers=headers)
            assert saved.status_code == 200, saved.text
            since = time.perf_counter()
            deadline = since + 60
            while True:
                progress = (await http.get("/api/v1/me/verifications")).json()
                if progress["level"] == "standard":
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"not standard after 60 s: {progress}")
                await asyncio.sleep(0.02)
            times.append(time.perf_counter() - since)
    return times


def journeys(env: dict[str, str], count: int, port: int) -> dict[str, float]:
    settings = settings_of(env)
    args = [str(BIN / "idp"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(args, env, "Uvicorn running"):
        times = asyncio.run(_journeys(env["IDP_ISSUER"], settings, count))
    ordered = sorted(times)
    return {
        "journeys": len(times),
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--journeys", type=int, default=30)
    parser.add_argument("--journey-latency", type=float, default=0.05)
    args = parser.parse_args()
    database_url = os.environ.get("IDP_TEST_POSTGRES_URL")
    if not database_url:
        sys.exit("run it under scripts/with-postgres (IDP_TEST_POSTGRES_URL)")
    var_dir = tempfile.mkdtemp(prefix="bench-verification-")
    asyncio.run(upgrade(database_url))
    port = free_port()

    sim_url, sim_args = simulator(dict(os.environ), 0.0)
    env = environment(database_url, var_dir, sim_url, port)
    with process(sim_args, env, "ready"):
        for workers in args.workers:
            result = throughput(env, args.checks, workers)
            print(
                f"throughput workers={workers} checks={result['checks']:.0f} "
                f"seconds={result['seconds']:.2f} checks_per_second={result['per_second']:.0f}",
                flush=True,
            )
    sim_url, sim_args = simulator(dict(os.environ), args.journey_latency)
    env = environment(database_url, var_dir, sim_url, port)
    with process(sim_args, env, "ready"):
        result = journeys(env, args.journeys, port)
        print(
            f"journey latency={args.journey_latency * 1000:.0f}ms n={result['journeys']:.0f} "
            f"p50={result['p50_ms']:.0f}ms p95={result['p95_ms']:.0f}ms "
            f"max={result['max_ms']:.0f}ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
