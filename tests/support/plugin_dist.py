"""A real installed distribution, written to a directory put on ``sys.path``: its modules, its
``*.dist-info/METADATA`` and ``entry_points.txt``, found by ``importlib.metadata`` as any
pip-installed package would be."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path


def unique_module() -> str:
    """A module name no other test uses, since imported modules stay in ``sys.modules``."""
    return f"idp_test_plugin_{uuid.uuid4().hex[:12]}"


def write_distribution(
    root: Path,
    name: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str] | None = None,
    version: str = "1.0",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = []
    for group, names in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in names.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
