"""Errors become JSON ``{"detail": "..."}`` with a clear message, never a stack trace.

    HTTPException            its status and message (401, 403, 404, 409, 422 ...)
    RequestValidationError   422, naming each bad parameter
    StoreUnavailable         503, "retry later" (InfluxDB down or overloaded)
    StoreRejected            500, logged: the API built a statement InfluxDB refused
    anything else            500, logged with its traceback
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from store.influx import StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)


def _json(status: int, detail: str, headers: Mapping[str, str] | None = None,
          **extra: object) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _json(exc.status_code, str(exc.detail), exc.headers)


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": ".".join(str(p) for p in e.get("loc", ())), "msg": str(e.get("msg"))}
              for e in exc.errors()]
    detail = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors) or "invalid request"
    return _json(422, detail, errors=errors)


async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("InfluxDB unavailable for %s %r: %s", request.method, request.url.path, exc)
    return _json(503, "the database is unavailable; retry later", {"Retry-After": "5"})


async def store_rejected(request: Request, exc: Exception) -> JSONResponse:
    log.error("InfluxDB refused a statement for %s %r: %s", request.method,
              request.url.path, exc)
    return _json(500, "internal error")


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %r", request.method, request.url.path, exc_info=exc)
    return _json(500, "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StoreUnavailable, store_unavailable)
    app.add_exception_handler(StoreRejected, store_rejected)
    app.add_exception_handler(Exception, unexpected)
