"""A failed browser test leaves its pages behind (the hook in ``tests/e2e/conftest.py``).

The hook is run for real: a tiny project holding a copy of that conftest, one browser test that
fails and one that passes, in a pytest of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ARTIFACTS_ENV

CONFTEST = Path(__file__).with_name("conftest.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TESTS = """
from playwright.async_api import Page


async def test_fails(page: Page) -> None:
    await page.set_content("<title>t</title><h1 id=marker>what the test saw</h1>")
    assert await page.title() == "something else"


async def test_passes(page: Page) -> None:
    await page.set_content("<title>t</title><h1>fine</h1>")
"""
INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""


def test_a_failed_browser_test_saves_a_screenshot_and_the_html(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    (project / "test_pages.py").write_text(TESTS, encoding="utf-8")
    (project / "pytest.ini").write_text(INI, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != ARTIFACTS_ENV}  # the default place

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_pages.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout, run.stdout
    artifacts = project / "var" / "test-artifacts"
    png = artifacts / "test_pages.py_test_fails.png"
    html = artifacts / "test_pages.py_test_fails.html"
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert png.stat().st_size > 1000, "a picture of the page, not an empty image"
    assert 'id="marker">what the test saw</h1>' in html.read_text(encoding="utf-8")
    assert str(png) in run.stdout, "the failure report names the screenshot"
    assert str(html) in run.stdout
    assert sorted(p.name for p in artifacts.iterdir()) == [html.name, png.name], (
        "nothing for the test that passed"
    )
