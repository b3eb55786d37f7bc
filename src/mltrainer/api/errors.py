"""One mapping from errors to HTTP statuses, with a JSON problem body (RFC 9457 style).

Body: ``{"type", "title", "status", "detail"}``. ``NotFound`` is 404, ``ComplianceError``
403 with the gateway's reason, bad input (``InputError``, ``ConfigError``, ``DataError``,
``ModelError``, ``TrialError``, pydantic validation) 422, a language-model provider that
failed (``ProviderError``) 502; anything else is 500 with a
generic message and the traceback goes to the server log only. Every detail passes the
App's scrubber, so no configured secret leaves in a response.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    ComplianceError,
    ConfigError,
    DataError,
    InputError,
    MLTrainerError,
    ModelError,
    NotFound,
    ProviderError,
    TrialError,
    describe_validation_error,
)

__all__ = ["install_error_handlers", "BodySizeLimit", "status_of", "problem", "problem_body"]

log = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[MLTrainerError], int], ...] = (
    (NotFound, 404),
    (ComplianceError, 403),
    (InputError, 422),
    (ConfigError, 422),
    (DataError, 422),
    (ModelError, 422),
    (TrialError, 422),
    (ProviderError, 502),
)
_TITLES = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
    422: "invalid request",
    500: "internal error",
    502: "bad gateway",
}


def status_of(err: MLTrainerError) -> int:
    """The HTTP status of an mlTrainer error (the most specific class wins)."""
    return next((code for cls, code in _STATUS if isinstance(err, cls)), 500)


def problem_body(exc: BaseException) -> dict[str, Any]:
    """The problem body of an error raised where no response can carry a status (an SSE
    stream that has started): the same mapping as the handlers below; not yet scrubbed."""
    if isinstance(exc, MLTrainerError):
        code = status_of(exc)
        if code != 500:
            detail = exc.reason if isinstance(exc, ComplianceError) else str(exc)
            return _body(code, detail, type(exc).__name__)
    log.error("error in a stream: %s", type(exc).__name__, exc_info=exc)
    return _body(500, "internal error; see the server log", "internal")


def _body(status: int, detail: str, kind: str | None) -> dict[str, Any]:
    return {
        "type": kind or "about:blank",
        "title": _TITLES.get(status, "error"),
        "status": status,
        "detail": detail,
    }


def problem(request: Request, status: int, detail: str, kind: str | None = None) -> JSONResponse:
    """A problem response whose detail is scrubbed of every configured secret."""
    services = getattr(request.app.state, "services", None)
    if services is not None:
        detail = services.app.scrub.text(detail)
    body = _body(status, detail, kind)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_mltrainer(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MLTrainerError)
        code = status_of(exc)
        if code == 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
            return problem(request, 500, f"{type(exc).__name__}: the request failed", "internal")
        detail = exc.reason if isinstance(exc, ComplianceError) else str(exc)
        return problem(request, code, detail, type(exc).__name__)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, RequestValidationError):
            parts = []
            for e in exc.errors():
                loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
                parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
            detail = "; ".join(parts)
        else:
            assert isinstance(exc, ValidationError)
            detail = describe_validation_error(exc, prefix=f"invalid {exc.title}")
        return problem(request, 422, detail, "ValidationError")

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        resp = problem(request, exc.status_code, str(exc.detail), "HTTPException")
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    async def on_other(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(request, 500, "internal error; see the server log", "internal")

    app.add_exception_handler(MLTrainerError, on_mltrainer)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_other)


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: a body over ``max_bytes`` is refused with 413 before a route runs
    (by its Content-Length, or while a chunked body streams in)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        too_large = refused = False

        async def limited() -> Message:
            nonlocal seen, too_large
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            # whatever the app made of the aborted read (FastAPI answers 400), it is a 413
            nonlocal refused
            if not too_large:
                await send(msg)
            elif not refused:
                refused = True
                await self._refuse(send)

        try:
            await self.app(scope, limited, guarded_send)
        except _TooLarge:
            if not refused:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        import json

        body = json.dumps(
            {
                "type": "PayloadTooLarge",
                "title": _TITLES[413],
                "status": 413,
                "detail": f"the request body is over the limit of {self.max_bytes:,} bytes "
                "(MLTRAINER_API_MAX_BODY_BYTES)",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
