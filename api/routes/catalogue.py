"""Reference data: the pollutant catalogue and the emission limits with their sources."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, StateDep
from api.models import LimitPublic, PollutantPublic
from core.pollutants import CATALOGUE

router = APIRouter(tags=["reference"])


@router.get("/pollutants", response_model=list[PollutantPublic])
def list_pollutants(user: CurrentUser) -> list[PollutantPublic]:
    """The pollutant catalogue: keys, HJ 212-2017 and 2005 codes, units, plausible ranges."""
    return [PollutantPublic(**asdict(p)) for p in CATALOGUE]


@router.get("/standards", response_model=list[LimitPublic])
def list_standards(
        user: CurrentUser, state: StateDep,
        pollutant: Annotated[str | None, Query(max_length=32)] = None) -> list[LimitPublic]:
    """Emission limits with their standard, clause, averaging period, reference O2 and source.
    """
    limits = sorted(state.standards.limits.values(), key=lambda lim: lim.id)
    return [LimitPublic(**asdict(lim)) for lim in limits if pollutant in (None, lim.pollutant)]
