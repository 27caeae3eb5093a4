"""``python -m api keys create|list|revoke``: manage API keys (admins, on a trusted host).

A new key is printed once, on standard output, and never stored: only its SHA-256 hash is.
An enterprise key is checked against the registry the services read (``EMS_REGISTRY_PATH``,
else the one they last loaded, ``store.registry_loads.choose_registry``); the command says
which file it read.
"""

from __future__ import annotations

import argparse
import sys

from api.keys import KeySpecError, KeyStore, Role
from api.params import iso
from api.settings import ApiSettings
from core.registry import load_registry
from core.standards import load_standards
from store.registry_loads import choose_registry
from store.sql import Records, open_records


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m api keys", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="issue a new key and print it once")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--enterprise", help="the enterprise an enterprise key is bound to")
    create.add_argument("--region", action="append", default=[],
                        help="limit an inspector to this region (repeatable)")
    sub.add_parser("list", help="list keys (ids, roles, scopes; never the keys)")
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    return p


def run(argv: list[str], settings: ApiSettings) -> int:
    args = parser().parse_args(argv)
    records = open_records(settings.records_url)
    try:
        return _run(args, settings, KeyStore(records, cache_s=0), records)
    finally:
        records.close()


def _run(args: argparse.Namespace, settings: ApiSettings, keys: KeyStore,
         records: Records) -> int:
    if args.command == "create":
        if args.enterprise:
            chosen = choose_registry(settings, records)
            print(chosen.describe(), file=sys.stderr)
            registry = load_registry(chosen.path, load_standards(settings.limits_path))
            if args.enterprise not in registry.enterprises:
                print(f"unknown enterprise {args.enterprise!r} in {chosen.path}",
                      file=sys.stderr)
                return 2
        try:
            record, key = keys.create(Role(args.role), args.enterprise, tuple(args.region))
        except KeySpecError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"created key {record.key_id} ({record.role.value}); it is shown only once:",
              file=sys.stderr)
        print(key)
        return 0
    if args.command == "list":
        for k in keys.list_keys():
            scope = k.enterprise or ",".join(k.regions) or "-"
            state = f"revoked {iso(k.revoked_ms)}" if k.revoked else "active"
            print(f"{k.key_id}\t{k.role.value}\t{scope}\tcreated {iso(k.created_ms)}\t{state}")
        return 0
    if not keys.revoke(args.key_id):
        print(f"no key {args.key_id!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}", file=sys.stderr)
    return 0
