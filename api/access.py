"""Who may see what: the caller of a request and the enterprises in its reach.

- admin: everything.
- inspector: every enterprise, or only those of its regions when its key names regions.
- enterprise: its own enterprise, and nothing else.

An enterprise out of reach is answered exactly like one that does not exist (404), so a key
cannot learn which other enterprises are registered.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.keys import ApiKey, Role
from core.registry import Enterprise, Registry

INSPECTORS = (Role.ADMIN, Role.INSPECTOR)  # who ranks enterprises and works the alert queue


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request, as its API key describes it (never the key itself)."""

    key_id: str
    role: Role
    enterprise: str | None = None
    regions: frozenset[str] = frozenset()

    @classmethod
    def from_key(cls, key: ApiKey) -> Principal:
        return cls(key.key_id, key.role, key.enterprise, frozenset(key.regions))

    @property
    def label(self) -> str:
        """How the caller is named in logs and alert notes."""
        return f"{self.role.value}:{self.key_id}"

    def name_of(self, by: str) -> str:
        """How a workflow note's author (``role:key id``) is shown to this caller: inspectors
        and admins see the key id; an enterprise sees its own label whole and only the role of
        anyone else, so no inspector's key id reaches the enterprise tier (api.tiers)."""
        if self.role in INSPECTORS or by == self.label:
            return by
        return by.partition(":")[0]

    def can_see(self, enterprise: Enterprise) -> bool:
        if self.role is Role.ADMIN:
            return True
        if self.role is Role.INSPECTOR:
            return not self.regions or enterprise.region in self.regions
        return enterprise.id == self.enterprise

    def can_see_id(self, registry: Registry, enterprise_id: str) -> bool:
        ent = registry.enterprises.get(enterprise_id)
        return ent is not None and self.can_see(ent)

    def sees_everything(self) -> bool:
        """True when no enterprise is out of reach (no filter needed)."""
        return self.role is Role.ADMIN or (self.role is Role.INSPECTOR and not self.regions)

    def visible(self, registry: Registry) -> list[Enterprise]:
        """The enterprises in reach, in id order."""
        return [e for _, e in sorted(registry.enterprises.items()) if self.can_see(e)]
