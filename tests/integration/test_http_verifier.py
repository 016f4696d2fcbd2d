"""The http verifier against the registry simulator on a real port: retries, Retry-After,
timeouts, refusals, the idempotency key, mutual TLS (and a gateway certificate from another CA
refused), misconfiguration, and messages without personal data or URL secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.levels.simulator import SimulatorConfig, build_app
from idp.levels.verifiers.http import HttpVerifier, build
from idp.levels.verifiers.protocol import (
    CheckKind,
    RegistryUnavailable,
    RequestRejected,
    Verdict,
    VerifierSetup,
)
from idp.plugins import PluginMisconfigured
from tests.integration.test_verifier_contract import mutual_tls_simulator
from tests.support import registry_kit
from tests.support.live import LiveServer, free_port
from tests.support.tls_ca import LocalCA

KINDS = frozenset(CheckKind)
TlsSim = tuple[LocalCA, LiveServer, Path, Path]  # the CA, the server, the client cert and key


@pytest.fixture(scope="module")
def sim() -> Iterator[LiveServer]:
    live = LiveServer(build_app(SimulatorConfig(random_seed=7)), free_port()).start()
    yield live
    live.stop()


def verifier(url: str, **options: Any) -> HttpVerifier:
    return build(VerifierSetup("http", KINDS, {"base_url": url, "retry_backoff": 0.01, **options}))


@pytest.fixture
async def http(sim: LiveServer) -> AsyncIterator[HttpVerifier]:
    await registry_kit.reset(sim.url)
    v = verifier(sim.url)
    yield v
    await v.close()


async def test_the_idempotency_key_is_sent(http: HttpVerifier, sim: LiveServer) -> None:
    first = await http.submit_person(registry_kit.person(), idempotency_key="check-7")
    again = await http.submit_person(registry_kit.person(), idempotency_key="check-7")
    assert again == first
    stats = await registry_kit.stats(sim.url)
    assert stats["by_key"] == {"check-7": 2}
    assert stats["submits"]["person"] == 1


async def test_a_mismatch_maps_with_its_fields(http: HttpVerifier) -> None:
    query = registry_kit.SEEDED[(CheckKind.PERSON, Verdict.MISMATCH)]
    reference = await http.submit_person(query, idempotency_key="m-1")
    answer = await http.answer(CheckKind.PERSON, reference)
    assert (answer.verdict, answer.fields) == (Verdict.MISMATCH, ("first_name", "sex"))


async def test_failures_are_retried_then_reported(http: HttpVerifier, sim: LiveServer) -> None:
    await registry_kit.configure(sim.url, failure_rate=1.0, retry_after=0)
    with pytest.raises(RegistryUnavailable) as down:
        await http.submit_inn(registry_kit.inn(), idempotency_key="r-1")
    assert str(down.value) == "the inn registry is unavailable (HTTP 503; 3 tries)"
    assert (await registry_kit.stats(sim.url))["failures"] == 3  # one try and two retries


async def test_a_failure_now_and_then_is_retried_away(sim: LiveServer) -> None:
    await registry_kit.reset(sim.url)
    await registry_kit.configure(sim.url, failure_rate=0.5, retry_after=0)
    patient = verifier(sim.url, retries=30)
    try:
        for n in range(10):
            reference = await patient.submit_person(registry_kit.person(), idempotency_key=f"{n}")
            assert (await patient.answer(CheckKind.PERSON, reference)).verdict is Verdict.MATCH
    finally:
        await patient.close()
    stats = await registry_kit.stats(sim.url)
    assert stats["failures"] > 0  # some calls failed, every one succeeded in the end
    assert stats["submits"]["person"] == 10


async def test_a_short_retry_after_is_waited_out(http: HttpVerifier, sim: LiveServer) -> None:
    await registry_kit.configure(sim.url, outage_seconds=0.5)  # Retry-After: 1
    reference = await http.submit_document(registry_kit.document(), idempotency_key="o-1")
    assert (await http.answer(CheckKind.DOCUMENT, reference)).verdict is Verdict.MATCH
    assert (await registry_kit.stats(sim.url))["failures"] == 1


async def test_a_long_retry_after_ends_the_tries_at_once(
    http: HttpVerifier, sim: LiveServer
) -> None:
    await registry_kit.configure(sim.url, outage_seconds=600)
    with pytest.raises(RegistryUnavailable, match=r"retry after 600 s"):
        await http.submit_document(registry_kit.document(), idempotency_key="o-2")
    assert (await registry_kit.stats(sim.url))["failures"] == 1  # the job waits, not the call


async def test_a_slow_gateway_times_out(sim: LiveServer) -> None:
    await registry_kit.reset(sim.url)
    await registry_kit.configure(sim.url, response_delay=2)
    hasty = verifier(sim.url, timeout=0.2, retries=1)
    try:
        with pytest.raises(RegistryUnavailable) as slow:
            await hasty.submit_inn(registry_kit.inn(), idempotency_key="t-1")
    finally:
        await hasty.close()
        await registry_kit.reset(sim.url)
    assert str(slow.value) == "the inn registry is unavailable (no answer within 0.2 s; 2 tries)"


async def test_a_refused_submit_is_rejected_with_field_names_only(http: HttpVerifier) -> None:
    query = registry_kit.person(snils="08765", last_name="П" * 150)
    with pytest.raises(RequestRejected) as refused:
        await http.submit_person(query, idempotency_key="x-1")
    assert str(refused.value) == (
        "the person registry refused the request: HTTP 400; fields: snils, last_name"
    )


async def test_a_forgotten_reference_is_rejected(http: HttpVerifier) -> None:
    with pytest.raises(RequestRejected, match="does not know request 'person-gone'"):
        await http.answer(CheckKind.PERSON, "person-gone")
    await http.acknowledge(CheckKind.PERSON, "person-gone")  # nothing to forget: fine


async def test_a_reference_cannot_steer_the_path(http: HttpVerifier, sim: LiveServer) -> None:
    with pytest.raises(RequestRejected):
        await http.answer(CheckKind.PERSON, "../../admin/stats")


async def test_nobody_listening_is_unavailable_without_url_secrets() -> None:
    url = f"http://user:pa55word@127.0.0.1:{free_port()}/gw?token=s3cret"
    v = verifier(url, retries=1)
    try:
        with pytest.raises(RegistryUnavailable) as down:
            await v.submit_person(registry_kit.person(), idempotency_key="n-1")
    finally:
        await v.close()
    reason = str(down.value)
    assert reason.startswith("the person registry is unavailable (ConnectError"), reason
    for hidden in ("pa55word", "s3cret", "token", "08765430300", "Петров"):
        assert hidden not in reason


# --- mutual TLS ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSim]:
    with mutual_tls_simulator(tmp_path_factory.mktemp("mtls")) as found:
        yield found


async def test_mutual_tls_with_the_client_certificate(
    tls_sim: TlsSim,
) -> None:
    ca, sim, cert, key = tls_sim
    v = verifier(sim.url, client_cert=str(cert), client_key=str(key), ca_file=str(ca.ca_file))
    try:
        reference = await v.submit_inn(registry_kit.inn(), idempotency_key="tls-1")
        assert (await v.answer(CheckKind.INN, reference)).verdict is Verdict.MATCH
        await v.acknowledge(CheckKind.INN, reference)
    finally:
        await v.close()


async def test_without_a_client_certificate_the_gateway_refuses(
    tls_sim: TlsSim,
) -> None:
    ca, sim, _, _ = tls_sim
    v = verifier(sim.url, ca_file=str(ca.ca_file), retries=0)
    try:
        with pytest.raises(RegistryUnavailable):
            await v.submit_inn(registry_kit.inn(), idempotency_key="tls-2")
    finally:
        await v.close()


async def test_a_gateway_certificate_from_another_ca_is_refused(
    tls_sim: TlsSim, tmp_path: Path
) -> None:
    _, sim, cert, key = tls_sim
    stranger = LocalCA.create(tmp_path / "other")
    v = verifier(
        sim.url,
        client_cert=str(cert),
        client_key=str(key),
        ca_file=str(stranger.ca_file),
        retries=0,
    )
    try:
        with pytest.raises(RegistryUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            await v.submit_inn(registry_kit.inn(), idempotency_key="tls-3")
    finally:
        await v.close()


# --- misconfiguration ---------------------------------------------------------------------


def test_misconfiguration_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "IDP_REGISTRIES__HTTP__BASE_URL is not set"),
        ({"base_url": "ftp://gw.example"}, "IDP_REGISTRIES__HTTP__BASE_URL is not an http(s) URL"),
        ({"base_url": "https://gw.example", "timeout": 0}, "timeout: Input should be greater"),
        (
            {"base_url": "https://gw.example", "client_key": str(garbage)},
            "client_key is set without client_cert",
        ),
        (
            {"base_url": "https://gw.example", "ca_file": str(tmp_path / "none.pem")},
            "ca_file: no such file",
        ),
        ({"base_url": "https://gw.example", "client_cert": str(garbage)}, "TLS setup failed"),
        (
            {"base_url": "http://gw.example", "client_cert": str(garbage)},
            "…__CLIENT_KEY need an https:// base URL (over http:// no client certificate is sent)",
        ),
        (
            {"base_url": "HTTP://gw.example", "client_key": str(garbage)},
            "need an https:// base URL",
        ),
    ]
    for options, message in cases:
        with pytest.raises(PluginMisconfigured) as wrong:
            build(VerifierSetup("http", KINDS, options))
        assert message in str(wrong.value), (options, str(wrong.value))
        assert "\n" not in str(wrong.value)
