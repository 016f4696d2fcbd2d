"""The http verifier against a hostile gateway on a real port: references that would steer the
URL path or be cut when stored, field names that are not the query's, and bodies too large to
read. Nothing such a gateway sends is quoted in an error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from idp.levels.verifiers.http import HttpVerifier, build
from idp.levels.verifiers.protocol import (
    CheckKind,
    RegistryUnavailable,
    RequestRejected,
    Verdict,
    VerifierSetup,
)
from tests.support import registry_kit
from tests.support.live import LiveServer, free_port


@dataclass
class Hostile:
    """What the gateway answers: ``reference`` to a submit, ``answer`` (a JSON value, or raw
    bytes) to a GET; every path asked is in ``hits``."""

    reference: Any = "ok-1"
    answer: Any = field(default_factory=lambda: {"status": "match"})
    hits: list[str] = field(default_factory=list)
    stream: bool = False  # bytes sent in chunks, with no Content-Length
    verifier: HttpVerifier | None = None  # the verifier under test, asking this gateway

    def app(self) -> Starlette:
        async def anything(request: Request) -> Response:
            self.hits.append(f"{request.method} {request.url.path}")
            if request.method == "POST" and request.url.path.endswith("/requests"):
                return JSONResponse({"reference": self.reference}, status_code=202)
            if request.method == "POST":
                return Response(status_code=204)
            if isinstance(self.answer, bytes) and self.stream:
                body = self.answer

                async def chunks() -> AsyncIterator[bytes]:
                    for start in range(0, len(body), 4096):
                        yield body[start : start + 4096]

                return StreamingResponse(chunks(), media_type="application/json")
            if isinstance(self.answer, bytes):
                return Response(self.answer, media_type="application/json")
            return JSONResponse(self.answer)

        return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[Hostile, LiveServer]]:
    hostile = Hostile()
    live = LiveServer(hostile.app(), free_port()).start()
    yield hostile, live
    live.stop()


@pytest.fixture
async def hostile(gateway: tuple[Hostile, LiveServer]) -> AsyncIterator[Hostile]:
    state, live = gateway
    state.reference, state.answer, state.hits[:] = "ok-1", {"status": "match"}, []
    state.stream = False
    v = build(VerifierSetup("http", frozenset(CheckKind), {"base_url": live.url, "retries": 0}))
    state.verifier = v
    yield state
    await v.close()


def _verifier(state: Hostile) -> HttpVerifier:
    assert state.verifier is not None
    return state.verifier


BAD_REFERENCES = [".", "..", "a/b", "../v1", "x" * 129, "ref with space", "ссылка", "a%2Fb"]


@pytest.mark.parametrize("reference", BAD_REFERENCES, ids=range(len(BAD_REFERENCES)))
async def test_a_reference_not_of_the_form_is_refused_from_the_gateway(
    hostile: Hostile, reference: str
) -> None:
    hostile.reference = reference
    with pytest.raises(RequestRejected) as refused:
        await _verifier(hostile).submit_person(registry_kit.person(), idempotency_key="h-1")
    assert str(refused.value) == (
        "the person registry's request reference is not in the expected form "
        "(1 to 128 of A-Z a-z 0-9 . _ : -, not . or ..)"
    )
    assert hostile.hits == ["POST /v1/person/requests"]


@pytest.mark.parametrize("reference", BAD_REFERENCES[:5], ids=range(5))
async def test_a_reference_not_of_the_form_is_never_asked_for(
    hostile: Hostile, reference: str
) -> None:
    verifier = _verifier(hostile)
    with pytest.raises(RequestRejected, match="not in the expected form"):
        await verifier.answer(CheckKind.PERSON, reference)
    with pytest.raises(RequestRejected, match="not in the expected form"):
        await verifier.acknowledge(CheckKind.PERSON, reference)
    assert hostile.hits == []  # ``..`` would have been GET /v1/person


async def test_a_reference_of_the_form_goes_through(hostile: Hostile) -> None:
    hostile.reference = "gw:2024-01.A_" + "9" * 115  # 128 characters
    verifier = _verifier(hostile)
    reference = await verifier.submit_person(registry_kit.person(), idempotency_key="h-2")
    assert reference == hostile.reference
    await verifier.answer(CheckKind.PERSON, reference)
    await verifier.acknowledge(CheckKind.PERSON, reference)
    assert hostile.hits[1:] == [
        f"GET /v1/person/requests/{reference}",
        f"POST /v1/person/requests/{reference}/ack",
    ]


# --- what the gateway says back -------------------------------------------------------------


async def test_only_the_querys_field_names_are_kept(hostile: Hostile) -> None:
    hostile.answer = {
        "status": "mismatch",
        "fields": [
            "last_name",
            "<script>alert(1)</script>",
            "snils: 08765430300",
            42,
            None,
            "last_name",
            "inn",  # a field of the tax query, not of the person query
            "birth_date",
        ],
    }
    answer = await _verifier(hostile).answer(CheckKind.PERSON, "ok-1")
    assert (answer.verdict, answer.fields) == (Verdict.MISMATCH, ("last_name", "birth_date"))
    answer = await _verifier(hostile).answer(CheckKind.INN, "ok-1")
    assert answer.fields == ("last_name", "inn", "birth_date")


async def test_fields_not_a_list_are_not_an_answer(hostile: Hostile) -> None:
    hostile.answer = {"status": "mismatch", "fields": "last_name"}
    with pytest.raises(RegistryUnavailable, match="not in the expected form"):
        await _verifier(hostile).answer(CheckKind.PERSON, "ok-1")


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
async def test_a_body_larger_than_64_kib_is_not_read(hostile: Hostile, stream: bool) -> None:
    hostile.stream = stream
    hostile.answer = b'{"status": "match", "pad": "' + b"x" * (64 * 1024) + b'"}'
    with pytest.raises(RegistryUnavailable) as large:
        await _verifier(hostile).answer(CheckKind.PERSON, "ok-1")
    assert str(large.value) == "the person registry's answer is larger than 64 KiB"
    # Just under the cap is read.
    hostile.answer = b'{"status": "match", "pad": "' + b"x" * (64 * 1024 - 40) + b'"}'
    assert (await _verifier(hostile).answer(CheckKind.PERSON, "ok-1")).verdict is Verdict.MATCH
