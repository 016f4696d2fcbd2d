"""Every ``idp`` command and option explains itself in ``--help`` (issue 9), and every
command that prints data takes ``--json``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from idp.cli import build_parser

# Commands that print nothing but a server's or worker's own log.
NO_DATA = {"idp serve", "idp worker", "idp registry-sim"}


def _commands(
    parser: argparse.ArgumentParser, path: str = "idp"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subcommands:
        yield path, parser
        return
    for action in subcommands:
        helped = {choice.dest for choice in action._choices_actions}
        for name, child in action.choices.items():
            assert name in helped, f"{path} {name} has no help text"
            yield from _commands(child, f"{path} {name}")


COMMANDS = dict(_commands(build_parser()))


def test_the_walk_finds_the_commands() -> None:
    for expected in (
        "idp clients list",
        "idp clients rotate-secret",
        "idp accounts find",
        "idp accounts delete",
        "idp sessions list",
        "idp notifications list",
    ):
        assert expected in COMMANDS


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    return [
        action.option_strings[0] if action.option_strings else action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        and (not (action.help or "").strip() or action.help == argparse.SUPPRESS)
    ]


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_and_argument_has_help(path: str) -> None:
    assert undocumented(COMMANDS[path]) == [], path


@pytest.mark.parametrize("path", sorted(set(COMMANDS) - NO_DATA))
def test_every_command_that_prints_data_takes_json(path: str) -> None:
    options = {option for action in COMMANDS[path]._actions for option in action.option_strings}
    assert "--json" in options


def test_an_option_or_a_command_without_help_is_caught() -> None:
    parser = build_parser()
    subcommands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    subcommands.choices["serve"].add_argument("--undocumented")
    assert undocumented(dict(_commands(parser))["idp serve"]) == ["--undocumented"]
    subcommands.add_parser("hidden")
    with pytest.raises(AssertionError, match="idp hidden has no help text"):
        dict(_commands(parser))
