"""Logging in and out of the web pages, and who is asking (see api.web.session).

Login takes an API key, checks it with ``KeyStore.authenticate`` (as the JSON API does) and
sets the session cookie: HttpOnly, SameSite (Lax by default), Max-Age, Path=/web, Secure over
HTTPS or when configured. The login form has its own CSRF token (a cookie and a field that must
match, so that no other site can log a browser in under its own key); every other form carries
the session's token.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.access import Principal
from api.deps import StateDep, denied
from api.keys import Role, key_id_of
from api.services.audit import note_principal
from api.web.i18n import LANG_COOKIE, LANGS
from api.web.render import page
from api.web.revocation import Revocations
from api.web.session import COOKIE, Session, SessionCodec, same_token

log = logging.getLogger("api.access")

PREFIX = "/web"
LOGIN_CSRF_COOKIE = "ems_login_csrf"
# Where a login may send the browser next: a page of this site, nothing else.
NEXT_CHARS = r"/[A-Za-z0-9_./?=&%+-]{0,500}"  # after the prefix of a page of this site


NextQuery = Annotated[str | None, Query(alias="next", max_length=600)]


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page."""


@dataclass(frozen=True, slots=True)
class WebUser:
    principal: Principal
    csrf: str
    session: Session


def codec_of(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.web_codec
    return codec


def revocations_of(request: Request) -> Revocations:
    revocations: Revocations = request.app.state.web_revocations
    return revocations


def safe_next(target: str | None, prefix: str = PREFIX) -> str:
    """``target`` if it is a page of this site under ``prefix``, else the first page there (no
    open redirect)."""
    if target and re.fullmatch(re.escape(prefix) + NEXT_CHARS, target) and "//" not in target \
            and ".." not in target:
        return target
    return f"{prefix}/"


def current_user(request: Request, state: StateDep) -> WebUser:
    """The caller of a page: a valid session whose key is still valid; else LoginRequired."""
    cookie = request.cookies.get(COOKIE)
    codec = codec_of(request)
    session = codec.read(cookie, int(state.clock())) if cookie else None
    if session is None or revocations_of(request).is_revoked(session.session_id):
        raise LoginRequired
    record = state.keys.active(session.key_id)
    if record is None or not codec.bound_to(session, record.sha256):
        raise LoginRequired
    user = WebUser(Principal.from_key(record), session.csrf, session)
    request.state.web_user = user
    note_principal(user.principal)
    return user


WebUserDep = Annotated[WebUser, Depends(current_user)]


async def form_user(request: Request, user: WebUserDep) -> WebUser:
    """The caller of a form POST whose CSRF token matches its session; 403 otherwise."""
    token = (await request.form()).get("csrf")
    if not same_token(user.csrf, token if isinstance(token, str) else None):
        raise denied(request, 403, "CSRF token missing or wrong", user.principal.key_id)
    return user


FormUser = Annotated[WebUser, Depends(form_user)]

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def secure(request: Request) -> bool:
    configured: bool | None = request.app.state.ems.settings.api_session_cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def home_of(user: Principal) -> str:
    if user.role is Role.ENTERPRISE:
        return f"{PREFIX}/enterprises/{user.enterprise}"
    return f"{PREFIX}/"  # today's work (api.web.home)


def login_page(request: Request, next_: str, failed: bool = False) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", 401 if failed else 200, login_csrf=token,
                    next=safe_next(next_), failed=failed)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path=f"{PREFIX}/login",
                        httponly=True, samesite="strict", secure=secure(request))
    return response


@router.get("/login")
def get_login(request: Request, next_: NextQuery = None) -> HTMLResponse:
    return login_page(request, safe_next(next_))


@router.post("/login")
def post_login(request: Request, state: StateDep, key: Annotated[str, Form(max_length=200)],
               csrf: Annotated[str, Form(max_length=100)],
               next_: Annotated[str, Form(alias="next", max_length=600)] = "/web/",
               ) -> Response:
    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf):
        raise denied(request, 403, "login CSRF token missing or wrong")
    record = state.keys.authenticate(key.strip())
    if record is None:  # logged and counted like a refused API call; the page says why
        denied(request, 401, "web login with an unknown, revoked or malformed key",
               key_id_of(key.strip()) or "malformed")
        return login_page(request, next_, failed=True)
    note_principal(Principal.from_key(record))
    codec = codec_of(request)
    _, cookie = codec.issue(record.key_id, record.sha256, int(state.clock()))
    log.info("web login of key %s (%s)", record.key_id, record.role.value)
    target = safe_next(next_)
    response = RedirectResponse(target if target != f"{PREFIX}/" else
                                home_of(Principal.from_key(record)), status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=codec.max_age_s, path=PREFIX, httponly=True,
                        samesite=state.settings.api_session_samesite, secure=secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
    return response


@router.post("/logout")
def post_logout(request: Request, user: FormUser) -> RedirectResponse:
    # server-side: a copy of the cookie stops working too, on every replica
    revocations_of(request).revoke(user.session.session_id, user.session.expires_s)
    log.info("web logout of key %s", user.principal.key_id)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, secure=secure(request),
                           samesite=request.app.state.ems.settings.api_session_samesite)
    return response


def lang_switch(request: Request, lang: str, next_: str | None, prefix: str
                ) -> RedirectResponse:
    """Back to ``next_`` (a page under ``prefix``) with the language preference cookie of the
    pages there."""
    response = RedirectResponse(safe_next(next_, prefix), status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path=prefix,
                            samesite="lax", secure=secure(request))
    return response


@router.get("/lang/{lang}")
def set_lang(request: Request, lang: str, next_: NextQuery = None) -> RedirectResponse:
    """Switch the pages' language (a plain preference cookie)."""
    return lang_switch(request, lang, next_, PREFIX)
