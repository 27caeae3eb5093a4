"""Dependencies of the routes: the application's state, the caller and what it may reach.

Routes declare what they need with the ``Annotated`` aliases below (``CurrentUser``,
``StoreDep``, ``VisibleEnterprise`` ...); a role check is a router dependency (``require``).
Every denied request is logged once at WARNING with the key's public id, never the key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.access import Principal
from api.keys import Role, key_id_of
from api.params import EndQuery, Page, StartQuery, TimeRange, page, time_range
from api.services.audit import note_principal
from api.services.queries import Scope
from api.services.reach import denied as denied  # "as": re-exported for routes and pages
from api.services.reach import reach_enterprise as reach_enterprise
from api.settings import ApiSettings
from api.state import AppState
from core.pollutants import BY_KEY
from core.registry import Enterprise, Registry
from store.influx import InfluxStore
from store.results import ResultStore

log = logging.getLogger("api.access")


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.ems
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_store(state: StateDep) -> InfluxStore:
    return state.store


def get_results(state: StateDep) -> ResultStore:
    return state.results


def get_registry(state: StateDep) -> Registry:
    return state.registry


def get_settings(state: StateDep) -> ApiSettings:
    return state.settings


StoreDep = Annotated[InfluxStore, Depends(get_store)]
ResultsDep = Annotated[ResultStore, Depends(get_results)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
PageDep = Annotated[Page, Depends(page)]

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ems_...`")


def get_principal(request: Request, state: StateDep,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                  ) -> Principal:
    if creds is None:
        raise denied(request, 401, "no API key")
    record = state.keys.authenticate(creds.credentials)
    if record is None:
        raise denied(request, 401, "unknown, revoked or malformed key",
                     key_id_of(creds.credentials) or "malformed")
    user = Principal.from_key(record)
    note_principal(user)
    return user


CurrentUser = Annotated[Principal, Depends(get_principal)]


def check_role(request: Request, user: Principal, roles: tuple[Role, ...]) -> Principal:
    """The caller if its role is one of ``roles``; 403 otherwise."""
    if user.role not in roles:
        raise denied(request, 403, f"role {user.role.value} not in "
                     f"{'/'.join(r.value for r in roles)}", user.key_id)
    return user


def require(*roles: Role) -> Callable[[Request, Principal], Principal]:
    """A router dependency: only these roles pass, the others get 403."""

    def check(request: Request, user: CurrentUser) -> Principal:
        return check_role(request, user, roles)

    return check


def get_enterprise(request: Request, enterprise_id: str, user: CurrentUser,
                   registry: RegistryDep) -> Enterprise:
    return reach_enterprise(request, user, registry, enterprise_id)


VisibleEnterprise = Annotated[Enterprise, Depends(get_enterprise)]


def readings_range(state: StateDep, start: StartQuery = None,
                   end: EndQuery = None) -> TimeRange:
    """Defaults to the last day; at most ``api_max_span_readings_days``."""
    return time_range(start, end, state.settings.api_max_span_readings_days, 1, state.now_ms())


def results_range(state: StateDep, start: StartQuery = None,
                  end: EndQuery = None) -> TimeRange:
    """Defaults to the last 30 days; at most ``api_max_span_results_days``."""
    return time_range(start, end, state.settings.api_max_span_results_days, 30, state.now_ms())


ReadingsRange = Annotated[TimeRange, Depends(readings_range)]
ResultsRange = Annotated[TimeRange, Depends(results_range)]

POLLUTANT_PATTERN = "^(" + "|".join(sorted(BY_KEY)) + ")$"
OutletQuery = Annotated[str | None, Query(max_length=64, description="Outlet id")]
PollutantQuery = Annotated[str | None, Query(pattern=POLLUTANT_PATTERN,
                                             description="Pollutant key (see /pollutants)")]


def series_scope(ent: VisibleEnterprise, outlet: OutletQuery = None,
                 pollutant: PollutantQuery = None) -> Scope:
    """The enterprise's series, narrowed to a registered outlet and a catalogue pollutant."""
    if outlet is not None and outlet not in ent.outlets:
        raise HTTPException(404, "no such outlet")
    if pollutant is not None and pollutant not in BY_KEY:
        raise HTTPException(422, "pollutant: not a key of the catalogue (see /pollutants)")
    return Scope(ent.id, outlet, pollutant)


SeriesScope = Annotated[Scope, Depends(series_scope)]
