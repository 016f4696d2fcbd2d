"""Protocol parameter errors never echo a name the sender chose."""

from __future__ import annotations

import pytest

from idp.errors import InvalidRequest
from idp.http.params import _collect, refuse_control_characters

HOSTILE = "<script>alert(1)</script>"


@pytest.mark.parametrize("problem", ["repeated", "too long"])
def test_an_unknown_parameter_is_not_named(problem: str) -> None:
    items = [(HOSTILE, "a"), (HOSTILE, "b")] if problem == "repeated" else [(HOSTILE, "x" * 9)]
    with pytest.raises(InvalidRequest) as caught:
        _collect(items, max_length=8)
    assert HOSTILE not in str(caught.value.description)
    assert str(caught.value.description) == f"a parameter is {problem}"


def test_a_known_parameter_is_named() -> None:
    with pytest.raises(InvalidRequest) as caught:
        _collect([("scope", "openid"), ("scope", "email")], max_length=100)
    assert str(caught.value.description) == "parameter 'scope' is repeated"


@pytest.mark.parametrize("value", ["a\x00", "\x1f", "x\x7fy", "\x85", "\x9f", "\t", "\r\n"])
def test_control_characters_are_refused(value: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        refuse_control_characters({"state": "ok", "nonce": value})
    assert str(caught.value.description) == "parameter 'nonce' contains control characters"


@pytest.mark.parametrize("value", ["", "plain", "é ü", "😀", "\xa0", "a b", "~!@#$%^&*()"])
def test_visible_characters_pass(value: str) -> None:
    refuse_control_characters({"login_hint": value})
