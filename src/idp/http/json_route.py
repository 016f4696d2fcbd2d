"""A route class for JSON request bodies that fails cleanly on bad bytes.

- A body sent with a content type other than JSON is refused with 415 (RFC 9110 §15.5.16).
- Bytes that are not UTF-8 do not fail the whole request with an unspecific 400: they are
  decoded with ``surrogateescape``, so the bad bytes reach the model as lone surrogates and the
  field that holds them is named in the 422 (the models in ``schemas_account`` refuse them).
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idp.errors import ProblemError, ValidationFailed
from idp.http.routing import ApiRoute

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class UnsupportedMediaType(ProblemError):
    status_code = 415
    type_slug = "unsupported-media-type"
    title = "Send the body as application/json"


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class _LenientJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_lenient_json"):
            raw = await self.body()
            self._lenient_json = json.loads(raw.decode("utf-8", "surrogateescape"))
        return self._lenient_json


class JsonRoute(ApiRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def route_handler(request: Request) -> Response:
            lenient = _LenientJsonRequest(request.scope, request.receive)
            if takes_body and request.method in _BODY_METHODS:
                await _check_body(lenient)
            return await handler(lenient)

        return route_handler


async def _check_body(request: _LenientJsonRequest) -> None:
    body = await request.body()
    if not body:
        return
    if not is_json(request.headers.get("content-type")):
        raise UnsupportedMediaType("The body must be JSON (Content-Type: application/json).")
    try:
        await request.json()  # parsed once here, where a too deep nesting can be answered
    except json.JSONDecodeError:
        return  # FastAPI answers it as a 422 with the position
    except RecursionError:
        raise _body_error("The JSON is nested too deeply.") from None


def _body_error(message: str) -> ValidationFailed:
    return ValidationFailed(
        "Some fields are invalid.", errors=[{"field": "body", "message": message}]
    )
