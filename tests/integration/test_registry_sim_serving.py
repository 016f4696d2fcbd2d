"""Where the registry simulator is served: `idp registry-sim` on its own, and inside `idp serve`
in dev mode at /_registry-sim, where the http verifier finds it with no setting at all; outside
dev mode never (start-up refuses it)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from idp.app import create_app
from idp.levels.verifiers.protocol import CheckKind, Verdict, submit
from idp.levels.verifiers.registry import build_verifiers, close_verifiers
from idp.settings import ConfigurationError, Settings
from tests.support import registry_kit
from tests.support.live import LiveServer, free_port
from tests.support.logout_kit import IDP, idp_env, run_idp
from tests.support.production import production


async def test_dev_mode_serves_the_simulator_and_the_http_verifier_finds_it(
    server: LiveServer, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.post("/_registry-sim/admin/reset", json={})).status_code == 204
    # No base URL set: dev mode points the http verifier at this server's simulator.
    dev = Settings(dev_mode=True, issuer=server.url, database_url=settings.database_url)
    assert dev.registries.http.base_url == f"{server.url}/_registry-sim"
    verifiers = build_verifiers(dev.registries)
    try:
        for (kind, verdict), query in registry_kit.SEEDED.items():
            reference = await submit(verifiers[kind], query, idempotency_key=f"{kind}-{verdict}")
            answer = await verifiers[kind].answer(kind, reference)
            assert answer.verdict is verdict
    finally:
        await close_verifiers(verifiers)
    stats = await registry_kit.stats(f"{server.url}/_registry-sim")
    assert stats["submits"] == {"person": 4, "document": 5, "inn": 3}


async def _simulator_status(settings: Settings) -> int:
    app = create_app(settings, run_jobs=False)
    try:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="https://idp.example") as http:
            return (await http.get("/_registry-sim/admin/stats")).status_code
    finally:
        await app.state.ctx.close()


async def test_outside_dev_mode_never(settings: Settings) -> None:
    plain = production(settings)
    assert plain.serves_registry_simulator is False
    assert await _simulator_status(plain) == 404
    # Asked for: refused at start-up (an open admin API, any data matches).
    asked = production(
        settings, registries=plain.registries.model_copy(update={"serve_simulator": True})
    )
    with pytest.raises(ConfigurationError) as refused:
        create_app(asked, run_jobs=False)
    assert str(refused.value) == (
        "IDP_REGISTRIES__SERVE_SIMULATOR=true serves the registry simulator (an admin API "
        "without authentication, matching any data) outside dev mode: unset it"
    )


def test_dev_mode_can_turn_the_simulator_off() -> None:
    off = Settings(dev_mode=True, registries={"serve_simulator": False})
    assert off.serves_registry_simulator is False
    assert off.registries.http.base_url is None


async def test_the_registry_sim_command_starts_and_answers(settings: Settings) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(IDP, "registry-sim", "--port", str(port), "--latency", "3600", "--no-accept-unknown"),
        env=idp_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line.decode() == f"idp registry-sim is ready: {url}\n"
        async with httpx.AsyncClient(base_url=url) as http:
            sent = await http.post(
                "/v1/person/requests",
                headers={"Idempotency-Key": "cli-1"},
                json={
                    "snils": "11111111145",
                    "last_name": "Сидоров",
                    "first_name": "Иван",
                    "middle_name": None,
                    "sex": "male",
                    "birth_date": "1990-01-01",
                },
            )
            assert sent.status_code == 202
            reference = sent.json()["reference"]
            got = await http.get(f"/v1/person/requests/{reference}")
            assert got.json() == {"status": "pending"}  # --latency
            await registry_kit.configure(url, latency=0)
            got = await http.get(f"/v1/person/requests/{reference}")
            assert got.json() == {"status": "unknown", "fields": []}  # --no-accept-unknown
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), 60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--failure-rate", "1.5"], "idp: argument --failure-rate: must be 0 to 1, not 1.5\n"),
        (["--latency", "-1"], "idp: argument --latency: must be 0 to 86400, not -1\n"),
        (["--port", "70000"], "idp: argument --port: must be 1 to 65535, not 70000\n"),
        (["--seed", "/nonexistent.json"], None),
    ],
    ids=["rate", "latency", "port", "seed"],
)
async def test_the_registry_sim_command_refuses_bad_options(
    settings: Settings, args: list[str], message: str | None
) -> None:
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        IDP,
        "registry-sim",
        *args,
        env=idp_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2, (out, err, time.monotonic() - started)
    assert out == b""
    assert err.decode().count("\n") == 1
    if message is not None:
        assert err.decode() == message
    else:
        assert err.decode().startswith("idp: --seed /nonexistent.json: ")


async def test_a_verdict_enum_covers_every_status_the_simulator_gives() -> None:
    from idp.levels.simulator.state import STATUSES

    assert {v.value for v in Verdict} - {"pending"} == STATUSES
    assert {k.value for k in CheckKind} == {"person", "document", "inn"}


async def test_serve_with_several_workers_refuses_its_own_simulator(
    settings: Settings, backend: str
) -> None:
    # Each process would hold a simulator of its own: a reference made in one is unknown to the
    # others, and the check asking for it would fail as refused.
    env = idp_env(settings)
    env.pop("IDP_REGISTRIES__HTTP__BASE_URL", None)
    code, _, err = await run_idp(env, "serve", "--workers", "2", "--port", str(free_port()))
    assert code == 2, err
    if backend == "postgresql":
        assert "registry simulator runs in one process" in err
    else:
        assert "several workers need PostgreSQL" in err
