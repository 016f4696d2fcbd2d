"""Numbers on the command line outside what they can be are refused in one line, exit 2:
a port above 65535 was wrapped round by the resolver (the server listened elsewhere and said
it was ready at the issuer), a huge ``--limit`` overflowed the database driver (a traceback)."""

from __future__ import annotations

import pytest

from idp.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "99999"],
        ["serve", "--port", "0"],
        ["serve", "--port", "eighty"],
        ["notifications", "list", "--limit", "99999999999999999999"],
        ["notifications", "list", "--limit", "0"],
        ["jobs", "list", "--limit", "-5"],
        ["deliveries", "list", "--limit", "0"],
    ],
)
def test_a_number_out_of_range_is_refused_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("idp: "), err
    assert err.count("\n") == 1, err


def test_numbers_in_range_are_taken() -> None:
    assert build_parser().parse_args(["serve", "--port", "65535"]).port == 65535
    assert build_parser().parse_args(["serve"]).port is None
    assert build_parser().parse_args(["notifications", "list", "--limit", "1"]).limit == 1
