"""Schemathesis against the committed ``openapi.yaml``: the server does what the document says.

A server of its own (a scratch database on each backend, so the thousands of generated
registrations, logins and codes touch no other test's counters) is driven by the ``st`` command
with every phase (examples, coverage, fuzzing, and stateful sequences along the document's
links) and every check but one: a generated request is never a server error, and every answer
is documented (status, media type, headers, body schema); bad input is refused; 405 answers
name the methods served. The one left out, ``positive_data_acceptance``, expects a 2xx for any
schema-valid request, which no schema can promise for an unknown client or a wrong code.

The caller is real: a person's SSO session for the REST API (cookies and CSRF header, logged in
again whenever the run ends it: ``tests.support.schemathesis_auth``), and a confidential
client's Basic credentials and a user access token for the protocol endpoints, so the
authenticated answers are checked too; the registration and reset tokens travel along the
links. Runs are derandomized, so a failure replays, and kept to 100 cases per operation.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path

from idp.app import create_app
from idp.clock import OffsetClock
from idp.context import Context
from idp.settings import Argon2Settings, Settings
from tests.support.browser import Browser
from tests.support.factories import make_person, make_rp
from tests.support.flows import log_in, redeem
from tests.support.live import LiveServer, free_port
from tests.support.logout_kit import create_scratch_database, drop_scratch_database

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi.yaml"
ST = Path(sys.executable).with_name("st")
EXAMPLES = 100
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]
# TEST-NET-3: the run's own address, so its failed logins and sends throttle nobody else.
ADDRESS = "203.0.113.77"
RUN_TIMEOUT = 600


async def _credentials(ctx: Context, server: LiveServer) -> dict[str, str]:
    """What ``tests.support.schemathesis_auth`` gives the run: a person who can log in, a
    confidential client, and that person's access token issued to it."""
    person = await make_person(ctx)
    rp = await make_rp(
        ctx,
        redirect_uri="https://conformance.example/cb",
        grant_types=["authorization_code", "refresh_token", "client_credentials"],
        require_consent=False,
    )
    browser = Browser(server.url)
    try:
        answer, verifier, _ = await log_in(browser, rp, person)
        tokens = await redeem(browser.http, rp, answer["code"], verifier)
        assert tokens.status_code == 200, tokens.text
    finally:
        await browser.close()
    assert rp.client_secret
    return {
        "CONFORMANCE_BASE_URL": server.url,
        "CONFORMANCE_LOGIN": person.phone,
        "CONFORMANCE_PASSWORD": person.password,
        "CONFORMANCE_CLIENT_ID": rp.client_id,
        "CONFORMANCE_CLIENT_SECRET": rp.client_secret,
        "CONFORMANCE_ACCESS_TOKEN": tokens.json()["access_token"],
    }


def _config() -> str:
    lines = [
        f"headers = {{ X-Forwarded-For = {json.dumps(ADDRESS)} }}",
        "[generation]",
        f"max-examples = {EXAMPLES}",
        "deterministic = true",
        "database = 'none'",
        "[checks]",
        "enabled = false",
    ]
    for check in CHECKS:
        lines += [f"[checks.{check}]", "enabled = true"]
    return "\n".join(lines) + "\n"


async def test_the_server_answers_as_openapi_yaml_says(
    settings: Settings, clock: OffsetClock, tmp_path: Path
) -> None:
    database_url = await create_scratch_database(settings.database_url, tmp_path)
    port = free_port()
    own = settings.model_copy(
        update={
            "database_url": database_url,
            "issuer": f"http://127.0.0.1:{port}",
            # Thousands of generated passwords are hashed: the cheapest argon2 keeps that short.
            "argon2": Argon2Settings(time_cost=1, memory_cost_kib=64),
        }
    )
    live = LiveServer(create_app(own, clock=clock), port).start()
    ctx = Context.build(own, clock)
    try:
        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(), encoding="utf-8")
        env = {
            **os.environ,
            **await _credentials(ctx, live),
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_auth",
        }
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            str(ST),
            "--config-file",
            str(config),
            "--no-color",
            "run",
            str(DOCUMENT),
            "--url",
            live.url,
            "--request-timeout",
            "30",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        report = out.decode("utf-8", "replace")
        print(report, f"\nschemathesis took {time.monotonic() - started:.0f} s")
        assert process.returncode == 0, report[-30000:]
        # The closing line: "No issues found in …" or "N warnings in …", never failures.
        assert re.search(r"=+ (No issues found|\d+ warnings?) in ", report), report[-30000:]
    finally:
        await ctx.close()
        live.stop()
        await drop_scratch_database(database_url)
