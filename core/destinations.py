"""Where an outlet's data goes on to: upper-level platforms and departments' webhooks.

Read from the registry file next to the enterprises (``core/registry.py``)::

    [[destination]]
    id = "province"                 # [A-Za-z0-9_-]{1,32}; names its queue and its metrics
    kind = "hj212"                  # HJ 212-2017 over TCP (default), or "webhook"
    host = "10.1.2.3"; port = 9212
    commands = ["2051", "2061"]     # minute 2051, hour 2061, day 2031, real-time 2011
    password_env = "EMS_FORWARD_PW_PROVINCE"   # the variable holding the platform's PW
    enterprises = ["E0001"]         # optional: only these (default: every enterprise)
    mn = {"E0001/G1" = "44010000000001"}       # optional: the MN the platform knows an outlet
                                                # by (default: the outlet's first device MN)
    password_env_of = {"E0001/G1" = "EMS_FORWARD_PW_E0001_G1"}  # optional, per outlet

    [[destination]]
    id = "ecology"
    kind = "webhook"
    url = "https://example.org/ems/hook"
    secret_env = "EMS_FORWARD_SECRET_ECOLOGY"  # the HMAC-SHA256 key
    commands = ["hour", "alert"]    # judged hours, alerts

Passwords and secrets are never in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
ENV_RE: Final = re.compile(r"[A-Z_][A-Z0-9_]{0,127}")
HJ212_COMMANDS: Final = ("2011", "2051", "2061", "2031")
WEBHOOK_COMMANDS: Final = ("hour", "alert")
KINDS: Final = ("hj212", "webhook")


class DestinationError(ValueError):
    """A destination entry is inconsistent; the message names it."""


@dataclass(frozen=True)
class Destination:
    id: str
    kind: str  # hj212 | webhook
    commands: tuple[str, ...]
    host: str = ""
    port: int = 0
    url: str = ""
    password_env: str = ""  # hj212: the PW; webhook: the HMAC key
    enterprises: tuple[str, ...] = ()  # empty: every enterprise
    mn: dict[str, str] = field(default_factory=dict)  # "enterprise/outlet" -> MN there
    password_env_of: dict[str, str] = field(default_factory=dict)  # "enterprise/outlet" -> var

    def takes(self, enterprise: str) -> bool:
        return not self.enterprises or enterprise in self.enterprises


def _env_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not ENV_RE.fullmatch(value):
        raise DestinationError(f"{where}: {value!r} is not an environment variable name")
    return value


def _outlet_table(raw: dict[str, Any], name: str, where: str) -> dict[str, str]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise DestinationError(f"{where}: {name} must be a table of \"enterprise/outlet\" = text")
    for key, value in table.items():
        parts = key.split("/")
        if len(parts) != 2 or not all(ID_RE.fullmatch(p) for p in parts):
            raise DestinationError(f"{where}: {name} key {key!r} is not enterprise/outlet")
        if not isinstance(value, str) or not ID_RE.fullmatch(value):
            raise DestinationError(f"{where}: {name}.{key} = {value!r} is not valid")
    return dict(table)


def parse_destination(raw: dict[str, Any]) -> Destination:
    did = raw.get("id")
    if not isinstance(did, str) or not ID_RE.fullmatch(did):
        raise DestinationError(f"destination: id {did!r} must match [A-Za-z0-9_-]{{1,32}}")
    where = f"destination {did}"
    kind = raw.get("kind", "hj212")
    if kind not in KINDS:
        raise DestinationError(f"{where}: kind {kind!r} is not one of {list(KINDS)}")
    allowed = HJ212_COMMANDS if kind == "hj212" else WEBHOOK_COMMANDS
    commands = tuple(str(c) for c in raw.get("commands", allowed[1:2] if kind == "hj212"
                                             else allowed))
    if not commands or any(c not in allowed for c in commands):
        raise DestinationError(f"{where}: commands {list(commands)} must be among {allowed}")
    enterprises = raw.get("enterprises", [])
    if not isinstance(enterprises, list) or not all(isinstance(e, str) for e in enterprises):
        raise DestinationError(f"{where}: enterprises must be a list of ids")
    if kind == "hj212":
        host, port = raw.get("host"), raw.get("port")
        if not isinstance(host, str) or not host:
            raise DestinationError(f"{where}: host is missing")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise DestinationError(f"{where}: port {port!r} is not a TCP port")
        return Destination(
            id=did, kind=kind, commands=commands, host=host, port=port,
            password_env=_env_name(raw.get("password_env"), where),
            enterprises=tuple(enterprises), mn=_outlet_table(raw, "mn", where),
            password_env_of={k: _env_name(v, where) for k, v in
                             _outlet_table(raw, "password_env_of", where).items()})
    url = raw.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise DestinationError(f"{where}: url {url!r} is not an http(s) URL")
    return Destination(id=did, kind=kind, commands=commands, url=url,
                       password_env=_env_name(raw.get("secret_env"), where),
                       enterprises=tuple(enterprises))


def parse_destinations(entries: Any, enterprise_ids: set[str]) -> dict[str, Destination]:
    if not isinstance(entries, list):
        raise DestinationError("destination must be an array of tables ([[destination]])")
    out: dict[str, Destination] = {}
    for raw in entries:
        dest = parse_destination(raw)
        if dest.id in out:
            raise DestinationError(f"destination {dest.id} is listed twice")
        unknown = [e for e in dest.enterprises if e not in enterprise_ids]
        unknown += [k for k in {**dest.mn, **dest.password_env_of}
                    if k.split("/")[0] not in enterprise_ids]
        if unknown:
            raise DestinationError(f"destination {dest.id}: unknown enterprises {unknown}")
        out[dest.id] = dest
    return out
