"""``python -m api keys create|list|revoke``: manage API keys (admins, on a trusted host);
``python -m api audit verify|prune``: the access audit trail.

A new key is printed once, on standard output, and never stored: only its SHA-256 hash is.
An enterprise key is checked against the registry the services read (``EMS_REGISTRY_PATH``,
else the one they last loaded, ``store.registry_loads.choose_registry``); the command says
which file it read.
"""

from __future__ import annotations

import argparse
import sys
import time

from api.keys import KeySpecError, KeyStore, Role
from api.params import iso
from api.settings import ApiSettings
from core.registry import load_registry
from core.standards import load_standards
from store.audit import prune, verify
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


AUDIT_DOC = """``python -m api audit verify|prune``: check the hash chain of the access audit
trail, or apply its retention now (the API also does it once a day).

``verify`` exits 0 when every batch holds, printing the head of the chain (its sequence number
and hash: note it elsewhere, removing batches at the very end is seen only against it), and 1
naming the first broken link otherwise.
"""
DAY_MS = 86_400_000


def audit_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m api audit", description=AUDIT_DOC)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("verify", help="check the whole hash chain; name the first broken link")
    sub.add_parser("prune", help="remove the batches older than audit_retention_days")
    return p


def run_audit(argv: list[str], settings: ApiSettings) -> int:
    """``python -m api audit verify|prune`` (see AUDIT_DOC)."""
    args = audit_parser().parse_args(argv)
    records = open_records(settings.records_url)
    try:
        if args.command == "prune":
            now_ms = int((time.time() + settings.clock_offset_s) * 1000)
            if settings.audit_retention_days <= 0:
                print("audit: retention is off (audit_retention_days = 0)", file=sys.stderr)
                return 0
            n = prune(records, now_ms - settings.audit_retention_days * DAY_MS, now_ms)
            print(f"audit: removed {n} batches", file=sys.stderr)
            return 0
        v = verify(records)
    finally:
        records.close()
    if not v.ok:
        print(f"audit chain broken at batch {v.broken_seq}: {v.reason} "
              f"({v.batches - 1} batches before it hold)")
        return 1
    head = f"{v.head_seq} {v.head_hash}" if v.head_seq is not None else "-"
    print(f"audit chain holds: {v.batches} batches, {v.events} events; head {head}")
    return 0
