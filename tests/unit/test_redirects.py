"""Redirect URI matching is exact (RFC 9700 §4.1.3): a mutated URI never matches, except that a
loopback URI's port may change (RFC 8252 §7.3)."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from idp.security.redirect_uris import matches_registered, registration_problem, with_params

MANY = settings(max_examples=1000, deadline=None)

REGISTERED = (
    "https://rp.example/cb",
    "https://rp.example:8443/oauth/callback?tenant=a",
    "http://127.0.0.1:8080/cb",
    "http://127.0.0.1/native",
    "http://[::1]:9000/cb?x=1",
    "com.example.app:/oauth2redirect",
)
# Characters that make interesting mutations: URL delimiters, case changes, encodings,
# whitespace and control characters, look-alikes.
ALPHABET = st.one_of(
    st.sampled_from(list(":/?#[]@!$&'()*+,;=%.-_~ \t\r\n\\AaBb0189")),
    st.characters(codec="utf-8"),
)


def _port_free(uri: str) -> str | None:
    """The URI without its port when it is an http loopback IP literal, else None. (A port of
    five digits over 65535 is let through: no browser can follow it anyway.)"""
    match = re.match(r"http://(127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?(?=[/?]|$)", uri)
    if match is None:
        return None
    port = match.group(2)
    return uri[: match.start(2) if port else match.end(1)] + uri[match.end() :]


def may_match(candidate: str, registered: str) -> bool:
    """The oracle: byte-equal, or byte-equal once a valid port on a loopback IP is removed."""
    if candidate == registered:
        return True
    a, b = _port_free(candidate), _port_free(registered)
    return a is not None and a == b


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str]:
    registered = draw(st.sampled_from(REGISTERED))
    uri = registered
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(uri)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "swapcase"]))
        if kind == "insert":
            uri = uri[:position] + draw(ALPHABET) + uri[position:]
        elif kind == "delete" and position < len(uri):
            uri = uri[:position] + uri[position + 1 :]
        elif kind == "replace" and position < len(uri):
            uri = uri[:position] + draw(ALPHABET) + uri[position + 1 :]
        elif kind == "swapcase" and position < len(uri):
            uri = uri[:position] + uri[position].swapcase() + uri[position + 1 :]
    return registered, uri


@MANY
@given(mutations())
@example(("http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/c\tb"))
@example(("http://127.0.0.1:8080/cb", " http://127.0.0.1:8080/cb"))
@example(("http://127.0.0.1:8080/cb", "http://127.0.0.1:abc/cb"))
@example(("http://127.0.0.1:8080/cb", "HTTP://127.0.0.1:8080/cb"))
@example(("https://rp.example/cb", "https://rp.example/cb#"))
def test_a_mutated_redirect_uri_never_matches(pair: tuple[str, str]) -> None:
    registered, candidate = pair
    assert matches_registered(candidate, (registered,), native=True) == may_match(
        candidate, registered
    ), candidate


@MANY
@given(
    registered=st.sampled_from([u for u in REGISTERED if u.startswith("http://")]),
    port=st.integers(0, 65535),
)
def test_a_loopback_uri_matches_on_any_port(registered: str, port: int) -> None:
    host_end = registered.index("/", len("http://"))
    host = re.sub(r":[0-9]+$", "", registered[len("http://") : host_end])
    candidate = f"http://{host}:{port}{registered[host_end:]}"
    assert matches_registered(candidate, (registered,), native=True)
    assert matches_registered(candidate.replace("/", "//", 3), (registered,), native=True) is False


@MANY
@given(mutations())
@example(("http://127.0.0.1:8080/cb", "http://127.0.0.1:8081/cb"))
@example(("http://127.0.0.1/native", "http://127.0.0.1:80/native"))
def test_a_web_client_redirect_uri_matches_only_byte_for_byte(pair: tuple[str, str]) -> None:
    # RFC 9700 §4.1.1: the port exception is for native apps only.
    registered, candidate = pair
    assert matches_registered(candidate, (registered,), native=False) == (candidate == registered)


def test_a_web_client_on_loopback_keeps_its_port() -> None:
    registered = ("http://127.0.0.1:47100/cb",)
    assert matches_registered("http://127.0.0.1:47100/cb", registered, native=False)
    assert not matches_registered("http://127.0.0.1:48101/cb", registered, native=False)
    assert matches_registered("http://127.0.0.1:48101/cb", registered, native=True)


@MANY
@given(st.text(max_size=60), st.lists(st.sampled_from(REGISTERED), max_size=4))
def test_matching_never_raises(candidate: str, registered: list[str]) -> None:
    assert matches_registered(candidate, tuple(registered), native=True) in (True, False)


def test_localhost_by_name_does_not_get_the_port_exception() -> None:
    # RFC 8252 §8.3: loopback IP literals, not "localhost".
    assert not matches_registered("http://localhost:1/cb", ("http://localhost:2/cb",), native=True)
    assert matches_registered("http://localhost:2/cb", ("http://localhost:2/cb",), native=True)


@MANY
@given(st.text(max_size=80))
def test_registration_check_never_raises(uri: str) -> None:
    problem = registration_problem(uri)
    assert problem is None or isinstance(problem, str)
    if problem is None:
        assert "#" not in uri


def test_registration_refuses_what_rfc_9700_forbids() -> None:
    assert registration_problem("https://a.example/cb") is None
    assert registration_problem("http://127.0.0.1:5000/cb") is None
    assert registration_problem("http://a.example/cb")
    assert registration_problem("https://a.example/cb#frag")
    assert registration_problem("https://user@a.example/cb")
    assert registration_problem("/relative")
    assert registration_problem("javascript:alert(1)")


def test_a_native_app_private_scheme_uri_can_be_registered() -> None:
    # RFC 8252 §7.1: "com.example.app:/oauth2redirect/example-provider" has no authority.
    assert registration_problem("com.example.app:/oauth2redirect/example-provider") is None
    assert registration_problem("com.example.app://oauth2redirect") is None
    assert registration_problem("myapp:/cb")  # not reverse-domain


@MANY
@given(
    registered=st.sampled_from(REGISTERED),
    params=st.dictionaries(
        st.sampled_from(["code", "state", "iss", "error"]), st.text(max_size=20), max_size=4
    ),
)
def test_response_parameters_keep_the_registered_query(
    registered: str, params: dict[str, str]
) -> None:
    built = with_params(registered, dict(params))
    assert built.startswith(registered)
    assert "#" not in built
