"""The marks forms of the enterprise page over HTTP: CSRF, roles, reach, escaping, errors."""

from __future__ import annotations

from store.marks import MarkStore
from store.results import Episode, ResultStore
from tests.web_support import Web, login_token

FORM = {"outlet": "G1", "kind": "maintenance", "start": "2025-11-01T08:00",
        "end": "2025-11-01T12:00", "reason": "analyser cleaning"}
START_MS = 1_761_955_200_000  # 2025-11-01T08:00+08:00 (the pages' zone is Asia/Shanghai)


def test_enterprise_declares_and_withdraws_on_its_page(web: Web) -> None:
    with web.login("e1") as c:
        page = c.get("/web/enterprises/E0001")
        assert 'id="declare-mark"' in page.text
        token = login_token(page.text)
        r = c.post("/web/enterprises/E0001/marks", data={**FORM, "csrf": token})
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/web/enterprises/E0001?done=marked#marks"
        (mark,) = MarkStore(web.api.store).list("E0001")
        assert (mark.start_ms, mark.end_ms) == (START_MS, START_MS + 4 * 3_600_000)
        assert mark.declared_by == f"enterprise:{web.api.key_ids['e1']}"
        shown = c.get("/web/enterprises/E0001?done=marked").text
        assert f'data-mark="{mark.id}"' in shown
        assert "Mark declared." in shown
        overlap = c.post("/web/enterprises/E0001/marks", data={**FORM, "csrf": token})
        assert overlap.status_code == 409
        path = f"/web/enterprises/E0001/marks/{mark.id}/withdraw"
        assert c.post(path, data={"csrf": "wrong"}).status_code == 403
        assert c.post(path, data={"csrf": token}).status_code == 303
        assert c.post(path, data={"csrf": token}).status_code == 409
        (kept,) = MarkStore(web.api.store).list("E0001")
        assert kept.withdrawn


def test_forms_refuse_wrong_token_role_reach_and_bad_values(web: Web) -> None:
    with web.login("e1") as c:
        token = login_token(c.get("/web/enterprises/E0001").text)
        assert c.post("/web/enterprises/E0001/marks",
                      data={**FORM, "csrf": "forged"}).status_code == 403
        assert c.post("/web/enterprises/E0002/marks",
                      data={**FORM, "csrf": token}).status_code == 404
        for bad in ({"kind": "holiday"}, {"end": "2025-11-01T07:00"}, {"reason": " "},
                    {"start": "2025-11-01T08:00+08:00"}, {"start": "tomorrow"}):
            r = c.post("/web/enterprises/E0001/marks", data={**FORM, **bad, "csrf": token})
            assert r.status_code == 422, bad
            assert "<main" in r.text  # an error page, not JSON
        assert c.post("/web/enterprises/E0001/marks",
                      data={**FORM, "outlet": "W1", "csrf": token}).status_code == 404
    with web.login("inspector") as c:
        page = c.get("/web/enterprises/E0001").text
        assert 'id="declare-mark"' not in page
        token = login_token(page)
        assert c.post("/web/enterprises/E0001/marks",
                      data={**FORM, "csrf": token}).status_code == 403
    assert MarkStore(web.api.store).list("E0001") == []


def test_reason_with_markup_is_shown_as_text(web: Web) -> None:
    hostile = '<script>alert("mark")</script><b>bold</b>'
    with web.login("e1") as c:
        token = login_token(c.get("/web/enterprises/E0001").text)
        c.post("/web/enterprises/E0001/marks", data={**FORM, "reason": hostile, "csrf": token})
        page = c.get("/web/enterprises/E0001").text
    assert hostile not in page
    assert "&lt;script&gt;alert(&#34;mark&#34;)&lt;/script&gt;" in page
    with web.login("inspector") as c:
        assert "&lt;b&gt;bold&lt;/b&gt;" in c.get("/web/enterprises/E0001").text


def test_alert_page_shows_a_day_exceedance_and_what_it_follows(web: Web) -> None:
    t0 = web.seeded.today_ms
    first = Episode("exceedance", "E0001", "G1", "so2", t0 - 2 * 86_400_000, False, 24,
                    t0 - 86_400_000, end_ms=t0 - 86_400_000, peak_multiple=0.25,
                    period="day")
    then = Episode("exceedance", "E0001", "G1", "so2", t0 - 86_400_000, True, 24, t0,
                   peak_multiple=0.3, period="day", follows=first.id)
    ResultStore(web.api.store).upsert_episodes([first, then])
    with web.login("inspector") as c:
        page = c.get(f"/web/alerts/{then.id}").text
        body = web.api.get(f"/alerts/{then.id}", "inspector").json()
    assert "daily mean over its limit" in page
    assert f'href="/web/alerts/{first.id}"' in page
    assert (body["period"], body["follows"]) == ("day", first.id)
