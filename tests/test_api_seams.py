"""The API's seams: pages and services never import route modules, services never import
pages; what a route and a page share lives in api/services/ (read with ``ast``)."""

from __future__ import annotations

from tests.test_layout import GRAPH, resolve

# Pages that still take alert and mark workflows from their routes: those move to
# api/services/ with the alert workflow's relational store; remove each entry then.
PAGES_ON_ROUTES_ALLOWED = {
    ("api.web.alerts", "api.routes.alerts"),
    ("api.web.enterprises", "api.routes.alerts"),
    ("api.web.enterprises", "api.routes.marks"),
    ("api.web.marks", "api.routes.marks"),
}


def imported(prefix: str) -> set[tuple[str, str]]:
    return {(m, r) for m, (top, _) in GRAPH.items() if m.startswith(prefix)
            for n in top if (r := resolve(n))}


def test_pages_call_services_not_routes() -> None:
    wrong = {(m, r) for m, r in imported("api.web") if r.startswith("api.routes")}
    assert wrong - PAGES_ON_ROUTES_ALLOWED == set()


def test_services_know_neither_routes_nor_pages() -> None:
    wrong = {(m, r) for m, r in imported("api.services")
             if r.startswith(("api.routes", "api.web", "api.deps", "api.main"))}
    assert wrong == set()
