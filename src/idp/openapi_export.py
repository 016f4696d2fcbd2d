"""``python -m idp.openapi_export``: print the OpenAPI 3.1 document as YAML (``make openapi``).

The document is what FastAPI generates for the routes it describes, merged with the
hand-written description of the protocol endpoints (``idp.oidc.openapi_protocol``). Building the
app touches nothing outside a temporary ``var_dir``: an in-memory database that is never
connected to and a fixed key-encryption key, so no key file is created.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from idp.app import create_app
from idp.oidc.openapi_protocol import TAGS, protocol_components, protocol_paths
from idp.settings import Settings

# Not a secret: it seals nothing, it only spares creating a key file while building the app.
_EXPORT_KEK = "b3BlbmFwaS1leHBvcnQtb25seS1ub3QtYS1zZWNyZXQ"


def app_document() -> dict[str, Any]:
    """FastAPI's own document for the app's described routes."""
    with tempfile.TemporaryDirectory(prefix="idp-openapi-") as var_dir:
        settings = Settings(
            database_url="sqlite+aiosqlite:///:memory:",
            var_dir=Path(var_dir),
            key_encryption_key=_EXPORT_KEK,
        )
        app = create_app(settings, run_jobs=False)
        try:
            # A JSON round trip gives plain, unshared containers (YAML would emit aliases).
            document: dict[str, Any] = json.loads(json.dumps(app.openapi()))
        finally:
            asyncio.run(app.state.ctx.close())
    return document


def merge(document: dict[str, Any]) -> dict[str, Any]:
    """Add the protocol endpoints; a path operation or component defined twice is an error."""
    paths: dict[str, dict[str, Any]] = document.setdefault("paths", {})
    for path, operations in protocol_paths().items():
        item = paths.setdefault(path, {})
        for method, operation in operations.items():
            if method in item:
                raise ValueError(f"{method.upper()} {path} is described twice")
            item[method] = operation
    components: dict[str, dict[str, Any]] = document.setdefault("components", {})
    for section, entries in protocol_components().items():
        target = components.setdefault(section, {})
        for name, value in entries.items():
            if name in target:
                raise ValueError(f"components.{section}.{name} is defined twice")
            target[name] = value
    known = {tag["name"] for tag in document.get("tags", [])}
    document.setdefault("tags", []).extend(t for t in TAGS if t["name"] not in known)
    return document


def build() -> dict[str, Any]:
    document = merge(app_document())
    document["info"].setdefault(
        "description",
        "OpenID Connect identity provider. The protocol endpoints follow OpenID Connect Core "
        "1.0, Discovery 1.0 and the OAuth 2.0 RFCs cited per operation.",
    )
    result: dict[str, Any] = json.loads(json.dumps(document))
    return result


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
