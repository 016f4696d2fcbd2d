"""``make lint`` runs ``lint-imports`` with the contracts in pyproject.toml: an import that
breaks one fails it. Each case copies the package, adds one such import and runs the real
command with the project's configuration against the copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_copy(
    tmp_path: Path, module: str = "", line: str = ""
) -> subprocess.CompletedProcess[str]:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "idp", src / "idp", ignore=shutil.ignore_patterns("__pycache__"))
    if module:
        target = src / (module.replace(".", "/") + ".py")
        target.write_text(target.read_text() + f"\n{line}  # noqa: E402\n")
    # The copy comes first on the path, ahead of the editable install of the real tree.
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint_copy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # A domain service reaching for a route module.
        (
            "idp.accounts.service",
            "import idp.accounts.routes",
            "Only the app mounts route and page modules",
        ),
        # The page kit importing protocol code: a package above it.
        ("idp.web.render", "import idp.oidc.discovery", "Packages depend only on the packages"),
        # A repository that knows about the web framework.
        ("idp.sessions.repository", "import fastapi", "Services and repositories know nothing"),
        # A repository calling back into its service.
        ("idp.clients.repository", "import idp.clients.service", "In a domain, routes and pages"),
    ],
)
def test_an_import_that_breaks_a_contract_fails_the_lint(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    result = _lint_copy(tmp_path, module, line)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken
    assert module in broken  # the copy was analysed, and the added import is named
