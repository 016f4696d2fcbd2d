"""The pause before asking a registry again: the base after the submit, doubling with every
poll, never more than the maximum."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from idp.levels.verification.handler import RegistryCheckHandler
from idp.settings import RegistriesSettings


def handler(**settings: Any) -> RegistryCheckHandler:
    ctx = SimpleNamespace(settings=SimpleNamespace(registries=RegistriesSettings(**settings)))
    return RegistryCheckHandler(ctx, {})  # type: ignore[arg-type]


def test_the_wait_doubles_per_poll_up_to_the_maximum() -> None:
    h = handler(answer_wait_base=2.0, answer_wait_max=30.0)
    # Try 1 submitted; tries 2, 3, … are polls.
    assert [h._answer_wait(n) for n in range(2, 9)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_very_long_wait_does_not_overflow() -> None:
    assert handler(answer_wait_base=2.0, answer_wait_max=300.0)._answer_wait(10_000) == 300.0
