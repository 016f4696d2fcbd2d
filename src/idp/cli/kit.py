"""What every ``idp`` command shares: the parser that fails in one line, exit codes, the
application context, and output as one JSON object (``--json``) or a readable table."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from idp.errors import BadInput
from idp.settings import Settings

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2  # malformed input, an unknown id, a duplicate name: nothing written
EXIT_WRONG_STATE = 3  # well formed, but the thing is not in a state that allows it

Column = tuple[str, str]  # (key in the row, heading)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, as for any bad input
        self.exit(EXIT_BAD_INPUT, f"idp: {message}\n")


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An option's type: a whole number from ``low`` to ``high``, else the one-line refusal
    (a port above 65535 would otherwise be wrapped round by the resolver, a huge limit
    overflow the database driver)."""

    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, not {value}")
        return value

    return number


def emit(data: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or ``key: value`` lines (the output of the first commands)."""
    if as_json:
        print(json.dumps(data))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")


def show(
    data: dict[str, Any],
    as_json: bool,
    *,
    rows: str | None = None,
    columns: Sequence[Column] = (),
    tables: dict[str, Sequence[Column]] | None = None,
) -> None:
    """One JSON object with ``--json``; otherwise ``rows`` (a key of ``data`` holding a list)
    as a table with ``columns``, or ``data`` as ``key: value`` lines with each key named in
    ``tables`` (a list of objects) shown as a table under its name."""
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    if rows is not None:
        items = data[rows]
        if not items:
            print(f"no {rows.replace('_', ' ')}")
            return
        print(table(items, columns))
        return
    tables = tables or {}
    width = max((len(k) for k in data if k not in tables), default=0)
    for key, value in data.items():
        if key not in tables:
            print(f"{key.replace('_', ' ') + ':':<{width + 2}}{text(value)}")
    for key, cols in tables.items():
        print(f"\n{key.replace('_', ' ')}:")
        print(table(data[key], cols) if data[key] else "  (none)")


def text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def table(items: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    cells = [[text(item.get(key)) for key, _ in columns] for item in items]
    headings = [heading for _, heading in columns]
    widths = [max(len(row[i]) for row in [headings, *cells]) for i in range(len(columns))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in [headings, *cells]
    ]
    return "\n".join(lines)


async def with_context(action: Callable[[Any], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    from idp.context import Context

    ctx = Context.build(Settings())
    try:
        return await action(ctx)
    finally:
        await ctx.close()


def run(action: Callable[[Any], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    return asyncio.run(with_context(action))


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table"
    )


def jwks_option(value: str | None) -> dict[str, Any] | None:
    """``--jwks``: a JSON key set, or ``@FILE`` holding one. A file that cannot be read is the
    operator's bad input (exit 2), like malformed JSON."""
    if not value:
        return None
    from idp.clients.service import parse_jwks

    if not value.startswith("@"):
        return parse_jwks(value)
    try:
        raw = Path(value[1:]).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--jwks {value}: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_jwks(raw)
