"""Reading a public report's submission (a multipart form), shared by the JSON API
(``POST /api/v1/public/reports``) and the public page's form (``POST /public/report``).

The body is counted while it is read and refused with 413 once it passes the photo's limit
(nothing is buffered beyond it); the photo is checked by its content and re-encoded without
metadata (``core.photos``). Submissions are limited per client address
(``api_public_reports_per_hour``, 429 with Retry-After) on top of the public routes' limit.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.types import Message

from api.params import parse_time
from api.state import AppState
from core.photos import CleanPhoto, NotAnImage, PhotoRejected, clean_photo
from store.public_reports import Draft, Rejected, Submitted

PHOTO_MAX_BYTES = 5 * 1024 * 1024
BODY_MAX_BYTES = PHOTO_MAX_BYTES + 64 * 1024  # the photo and the text fields around it
FIELD_MAX_BYTES = 16 * 1024
FIELDS = ("enterprise", "lat", "lon", "time", "kind", "description", "contact", "photo")
TOO_LARGE = "photo: at most 5 MiB"


class TooLarge(Exception):
    pass


async def read_form(request: Request) -> FormData:
    """The multipart form, refused (413) as soon as the body passes BODY_MAX_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_MAX_BYTES:
        raise HTTPException(413, TOO_LARGE)
    seen = 0

    async def receive() -> Message:
        nonlocal seen
        message = await request.receive()
        seen += len(message.get("body", b""))
        if seen > BODY_MAX_BYTES:
            raise TooLarge
        return message

    try:
        return await Request(request.scope, receive).form(
            max_files=1, max_fields=len(FIELDS), max_part_size=FIELD_MAX_BYTES)
    except TooLarge:
        raise HTTPException(413, TOO_LARGE) from None
    except MultiPartException as exc:
        raise HTTPException(422, f"form: {exc.message}") from None


def text_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise HTTPException(422, f"{name}: expected text, not a file")
    return value


def number(form: FormData, name: str) -> float | None:
    value = text_field(form, name)
    try:
        return None if value is None else float(value)
    except ValueError:
        raise HTTPException(422, f"{name}: not a number") from None


async def photo_of(form: FormData) -> CleanPhoto | None:
    value = form.get("photo")
    if value is None or value == "":
        return None
    if not isinstance(value, UploadFile):
        raise HTTPException(422, "photo: expected a file")
    data = await value.read(PHOTO_MAX_BYTES + 1)
    if not data:  # a form's empty file input
        return None
    if len(data) > PHOTO_MAX_BYTES:
        raise HTTPException(413, TOO_LARGE)
    try:
        return clean_photo(data)
    except NotAnImage as exc:
        raise HTTPException(415, str(exc)) from None
    except PhotoRejected as exc:
        raise HTTPException(413, str(exc)) from None


def event_time(value: str, local_zone: str | None) -> int:
    """Epoch ms of the event: RFC 3339 with an offset, or (``local_zone`` given, as from a
    page's datetime-local field) a date and time without one, in that zone."""
    if local_zone is not None:
        try:
            naive = datetime.fromisoformat(value)
        except ValueError:
            raise HTTPException(422, "time: expected a date and time") from None
        if naive.tzinfo is None:
            return int(naive.replace(tzinfo=ZoneInfo(local_zone)).timestamp() * 1000)
    return parse_time(value, "time")


def draft_of(form: FormData, photo: CleanPhoto | None, local_zone: str | None = None) -> Draft:
    when = text_field(form, "time")
    if when is None:
        raise HTTPException(422, "time: required (ISO 8601 with an offset)")
    unknown = sorted(set(form.keys()) - set(FIELDS))
    if unknown:
        raise HTTPException(422, f"{unknown[0][:32]}: not a field of a report")
    return Draft(event_ms=event_time(when, local_zone), kind=text_field(form, "kind") or "",
                 description=text_field(form, "description") or "",
                 enterprise=text_field(form, "enterprise"), lat=number(form, "lat"),
                 lon=number(form, "lon"), contact=text_field(form, "contact"), photo=photo)


def check_rate(request: Request, state: AppState) -> None:
    """429 with Retry-After once this address has sent its reports of the hour."""
    client = request.client.host if request.client else "-"
    wait = state.report_buckets.take(client)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        raise HTTPException(429, f"too many reports from this address; retry after {retry} s",
                            headers={"Retry-After": str(retry)})


async def store_form(form: FormData, state: AppState, local_zone: str | None = None
                     ) -> Submitted:
    """Check and store a submission's form (closed afterwards): the ticket and its token;
    HTTPException (413, 415, 422) otherwise."""
    try:
        draft = draft_of(form, await photo_of(form), local_zone)
        return state.public_reports.submit(draft, state.registry, state.now_ms())
    except Rejected as exc:
        raise HTTPException(422, str(exc)) from None
    finally:
        await form.close()


async def take_report(request: Request, state: AppState) -> Submitted:
    """One submission of the JSON API: the per-address limit, the form, then ``store_form``."""
    check_rate(request, state)
    return await store_form(await read_form(request), state)
