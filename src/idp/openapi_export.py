"""``python -m idp.openapi_export``: print the OpenAPI 3.1 document as YAML (``make openapi``).

The document is the one the app serves at ``/api/openapi.json`` (``idp.http.openapi``: FastAPI's
description of the REST routes merged with the hand-written protocol endpoints). Building the
app touches nothing outside a temporary ``var_dir``: an in-memory database that is never
connected to and a fixed key-encryption key, so no key file is created.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from idp.app import create_app
from idp.settings import Settings

# Not a secret: it seals nothing, it only spares creating a key file while building the app.
_EXPORT_KEK = "b3BlbmFwaS1leHBvcnQtb25seS1ub3QtYS1zZWNyZXQ"


def build() -> dict[str, Any]:
    """The app's own document: the one it serves at ``/api/openapi.json``."""
    with tempfile.TemporaryDirectory(prefix="idp-openapi-") as var_dir:
        settings = Settings(
            database_url="sqlite+aiosqlite:///:memory:",
            var_dir=Path(var_dir),
            key_encryption_key=_EXPORT_KEK,
            dev_mode=True,  # a build tool, not a server: no SMS gateway or https issuer needed
        )
        app = create_app(settings, run_jobs=False)
        try:
            document: dict[str, Any] = app.openapi()
        finally:
            asyncio.run(app.state.ctx.close())
    return document


def to_yaml(document: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return text


def main() -> int:
    sys.stdout.buffer.write(to_yaml(build()).encode("utf-8"))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
