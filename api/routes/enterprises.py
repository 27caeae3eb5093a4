"""Enterprises in the caller's reach, with their outlets and the limits that apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, PageDep, RegistryDep, VisibleEnterprise
from api.models import EnterprisePublic, OutletPublic, Page
from core.registry import Enterprise

router = APIRouter(prefix="/enterprises", tags=["enterprises"])


def enterprise_public(ent: Enterprise) -> EnterprisePublic:
    return EnterprisePublic(
        id=ent.id, name=ent.name, region=ent.region, industry=ent.industry,
        outlets=[OutletPublic(id=o.id, name=o.name, medium=o.medium.value,
                              interval_s=o.interval_s, limit_ids=[lim.id for lim in o.limits])
                 for o in ent.outlets.values()])


@router.get("", response_model=Page[EnterprisePublic])
def list_enterprises(
        user: CurrentUser, registry: RegistryDep, page: PageDep,
        region: Annotated[str | None, Query(max_length=64)] = None,
        industry: Annotated[str | None, Query(max_length=64)] = None) -> Page[EnterprisePublic]:
    """Enterprises the key may see, by id; an enterprise key sees only its own."""
    ents = [e for e in user.visible(registry)
            if (region is None or e.region == region)
            and (industry is None or e.industry == industry)]
    items = ents[page.offset:page.offset + page.limit]
    return Page[EnterprisePublic](limit=page.limit, offset=page.offset, total=len(ents),
                                  items=[enterprise_public(e) for e in items])


@router.get("/{enterprise_id}", response_model=EnterprisePublic)
def get_enterprise(ent: VisibleEnterprise) -> EnterprisePublic:
    """One enterprise with its outlets and their limit ids (see /standards)."""
    return enterprise_public(ent)
