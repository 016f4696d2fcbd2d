"""Reading the self-service form pages (registration, password reset) as served: an input's
tag, a field's error text, and whether the two are tied together for assistive technology."""

from __future__ import annotations

import html
import re


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}"[^>]*>', page)
    assert found, f"no input {name}"
    return found.group(0)


def field_error(page: str, name: str) -> str | None:
    found = re.search(rf'<p class="error" id="{name}-error">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def assert_invalid(page: str, name: str, describedby: str | None = None) -> str:
    """The field is marked invalid and its error is read out with it; returns the error.
    ``describedby`` names a shared error (e.g. one for a group of fields) instead."""
    tag = input_tag(page, name)
    assert 'aria-invalid="true"' in tag, tag
    described = re.search(r'aria-describedby="([^"]+)"', tag)
    assert described, tag
    error_id = describedby or f"{name}-error"
    assert error_id in described.group(1).split(), tag
    message = field_error(page, error_id.removesuffix("-error"))
    assert message, page
    return message
