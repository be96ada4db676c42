"""API errors as the real service reports them.

One exception type carries everything needed to answer on either transport: over HTTP it
becomes a status code, optional headers and the body ``{"error": {message, type, param,
code}}``; over the WebSocket the same fields arrive nested in an ``error`` event that also
states the HTTP-equivalent ``status``. Keeping both renderings here means a client sees the
same code (``previous_response_not_found``, ``rate_limit_exceeded`` ...) whichever way it
connected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from schemas.responses import ErrorBody, WsErrorDetail, WsErrorEvent


class ApiError(Exception):
    """An error response of the Responses API."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # named after the wire field
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        close_after: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers: dict[str, str] = dict(headers or {})
        self.close_after = close_after
        """On the WebSocket, close the connection after reporting (the connection limit)."""

    def body(self) -> ErrorBody:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def ws_event(self, *, stream_id: str | None = None) -> WsErrorEvent:
        detail: WsErrorDetail = {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        }
        if self.headers:
            detail["headers"] = dict(self.headers)
        event: WsErrorEvent = {"type": "error", "status": self.status, "error": detail}
        if stream_id is not None:
            event["stream_id"] = stream_id
        return event


def invalid_value(param: str, message: str) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_value")


def invalid_type(param: str, expected: str, got: object) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_json_type(got)} instead.",
        param=param,
        code="invalid_type",
    )


def missing_parameter(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def invalid_json() -> ApiError:
    return ApiError(
        400,
        "We could not parse the JSON body of your request. The API expects a JSON payload.",
    )


def previous_response_not_found(response_id: str) -> ApiError:
    return ApiError(
        400,
        f"Previous response with id '{response_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def rate_limited(retry_after: float) -> ApiError:
    """429 with both ``retry-after`` (whole seconds, as HTTP defines it) and
    ``retry-after-ms`` (what the official SDKs prefer when present)."""
    return ApiError(
        429,
        f"Rate limit reached for requests (scripted by the mock model server). "
        f"Please try again in {retry_after:g}s.",
        type="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after": str(max(0, math.ceil(retry_after))),
            "retry-after-ms": str(max(0, round(retry_after * 1000))),
        },
    )


def server_error(status: int = 500) -> ApiError:
    return ApiError(
        status,
        "The server had an error while processing your request (scripted by the mock model "
        "server).",
        type="server_error",
    )


def connection_limit_reached() -> ApiError:
    return ApiError(
        400,
        "Responses websocket connection limit reached (60 minutes). Create a new websocket "
        "connection to continue.",
        code="websocket_connection_limit_reached",
        close_after=True,
    )


def not_found(method: str, path: str) -> ApiError:
    return ApiError(404, f"Invalid URL ({method} {path})")


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError(405, f"Method {method} is not allowed for {path}.")


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
        case _:
            return type(value).__name__
