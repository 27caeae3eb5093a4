"""The recipients file: TOML, one ``[[recipient]]`` table each (it may hold robot secrets and
robot URLs with keys: keep it like the registry's secrets file).

    [[recipient]]
    id = "north-duty"            # unique
    name = "North district duty inspector"
    role = "inspector"           # or "enterprise" (a contact, with enterprise = "E0001")
    regions = ["north"]          # an inspector's; none: every region
    channel = "dingtalk"         # email, webhook, dingtalk, wecom
    address = "https://oapi.dingtalk.com/robot/send?access_token=..."  # or an e-mail address
    secret = "SEC..."            # DingTalk's signing secret; a webhook's HMAC key
    kinds = ["exceedance"]       # none: every kind
    min_severity = "medium"      # low, medium, high, critical
    level = 1                    # 2, 3: told when an alert stays unacknowledged (escalation)
    quiet = "22:00-07:00"        # local quiet hours (critical alerts still go)
    digest = true                # low-severity alerts once a day, in one message
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from store.notifications import Recipient


def recipient_of(t: dict[str, Any]) -> Recipient:
    return Recipient(recipient_id=str(t["id"]), name=str(t.get("name", t["id"])),
                     role=str(t["role"]), channel=str(t["channel"]),
                     address=str(t["address"]), enterprise=t.get("enterprise"),
                     regions=tuple(t.get("regions", ())), secret=t.get("secret"),
                     kinds=tuple(t.get("kinds", ())),
                     min_severity=str(t.get("min_severity", "low")),
                     level=int(t.get("level", 1)), quiet=str(t.get("quiet", "")),
                     digest=bool(t.get("digest", False)))


def load_recipients(path: Path) -> list[Recipient]:
    """The recipients of the file; ValueError or KeyError naming what is wrong."""
    tables = tomllib.loads(path.read_text()).get("recipient", [])
    out = [recipient_of(t) for t in tables]
    ids = [r.recipient_id for r in out]
    if len(set(ids)) != len(ids):
        raise ValueError("recipient ids must be unique")
    return out
