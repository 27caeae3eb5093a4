"""The alert workflow through the API when people act at once, on SQLite and on PostgreSQL:
every action that succeeds keeps its note, and a move that lost the race is told 409."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from store.influx import InfluxStore
from store.results import Episode, ResultStore
from store.sql import Records
from tests.api_support import NOV1_MS, Api, running_api

H = 3_600_000


def at_once(calls: list[tuple[str, str, dict[str, str]]], api: Api) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))
    out: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        path, who, body = calls[i]
        with httpx.Client(base_url=api.client.base_url, timeout=30) as c:
            barrier.wait(10)
            out[i] = c.post(f"/api/v1{path}", json=body, headers=api.auth(who))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_people_acting_at_once_all_keep_their_notes(store: InfluxStore, records: Records,
                                                    tmp_path: Path) -> None:
    eps = [Episode("exceedance", "E0001", "G1", "so2", NOV1_MS + i * H, True, 1,
                   NOV1_MS + (i + 1) * H) for i in range(3)]
    ResultStore(store).upsert_episodes(eps)
    with running_api(store, tmp_path, records=records) as api:
        for ep in eps:
            got = at_once([(f"/alerts/{ep.id}/acknowledge", "inspector", {"note": "ack"}),
                           (f"/alerts/{ep.id}/resolve", "admin", {"note": "res"}),
                           (f"/alerts/{ep.id}/explanation", "e1", {"text": "pump"})], api)
            codes = [r.status_code for r in got]
            assert codes[2] == 200  # an explanation is never refused for a move
            assert all(c in (200, 409) for c in codes[:2]), codes
            assert 200 in codes[:2]
            stored = api.get(f"/alerts/{ep.id}", "admin").json()
            kept = sorted(n["text"] for n in stored["notes"])
            won = sorted(t for t, r in zip(("ack", "res"), got, strict=False)
                         if r.status_code == 200)
            assert kept == sorted([*won, "pump"])
            assert stored["explanation"] == "pump"
            assert stored["status"] == ("resolved" if "res" in won else "acknowledged")
