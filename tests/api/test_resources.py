"""Every /api/v1 resource through HTTP against the real server: CRUD, lists (pagination and
filters), sessions from creation to cancellation, replies, feeds, keys, health."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from coordinator.models.session import Session  # noqa: F401  (the schema is loaded)

PROBLEM = "application/problem+json"


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


# --- networks, cities, delegates, groups ---------------------------------------------------------


def test_networks_are_limited_to_the_key(api):
    assert [n["slug"] for n in ok(api.client("admin").get("/api/v1/networks"))] == [
        "g-nets",
        "other",
    ]
    assert [n["slug"] for n in ok(api.client("viewer_b").get("/api/v1/networks"))] == ["other"]


def test_import_network_file_over_http(api):
    from tests.conftest import KICKOFF

    body = KICKOFF.read_bytes()
    with api.client("organizer") as c:
        again = ok(c.post("/api/v1/networks/import", content=body))
        assert again == {"network": "G-NETS", "changed": False, "created": {}, "updated": {}}
    # an organizer of network B may not import network A's file
    refused = api.client("organizer_b").post("/api/v1/networks/import", content=body)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM


def test_import_errors_name_the_line_and_write_nothing(api):
    before = api.counts()
    broken = "network:\n  name: X\n  organizer: {name: A, email: a@x.org}\ncities:\n  - {name: Y}\n"
    r = api.client("admin").post("/api/v1/networks/import", content=broken.encode())
    problem = r.json()
    assert r.status_code == 422 and problem["type"] == "/problems/user-error"
    assert problem["detail"].startswith("body:") and "nothing was imported" in problem["detail"]
    assert any("line 5" in e["message"] for e in problem["errors"]), problem
    assert api.counts() == before


def test_city_crud_and_filters(api):
    with api.client("organizer") as c:
        created = ok(
            c.post(
                "/api/v1/cities",
                json={
                    "name": "Kyoto",
                    "name_ja": "京都",
                    "aliases": ["京都市"],
                    "country": "jp",
                    "zone": " asia/tokyo ",
                },
            ),
            201,
        )
        assert created["country"] == "JP" and created["zone"] == "Asia/Tokyo"
        assert created["network"] == "g-nets"
        city = created["id"]
        assert ok(c.get(f"/api/v1/cities/{city}"))["name_ja"] == "京都"
        found = ok(c.get("/api/v1/cities", params={"q": "京都"}))
        assert [x["id"] for x in found["items"]] == [city]
        changed = ok(c.patch(f"/api/v1/cities/{city}", json={"zone": "Asia/Seoul"}))
        assert changed["zone"] == "Asia/Seoul" and changed["name"] == "Kyoto"
        duplicate = c.post("/api/v1/cities", json={"name": "Kyoto", "country": "JP", "zone": "UTC"})
        assert duplicate.status_code == 409 and duplicate.json()["type"] == "/problems/conflict"
        assert c.delete(f"/api/v1/cities/{city}").status_code == 204
        assert c.get(f"/api/v1/cities/{city}").status_code == 404
        # a presenting city cannot be removed
        in_use = c.delete(f"/api/v1/cities/{api.ids['city_a']}")
        assert in_use.status_code == 409, in_use.text


def test_lists_are_paginated_with_totals(api):
    with api.client("viewer") as c:
        first = ok(c.get("/api/v1/cities", params={"limit": 10}))
        second = ok(c.get("/api/v1/cities", params={"limit": 10, "offset": 10}))
    assert first["total"] == second["total"] >= 47
    assert len(first["items"]) == 10 and first["limit"] == 10 and second["offset"] == 10
    assert not {x["id"] for x in first["items"]} & {x["id"] for x in second["items"]}
    assert {x["network"] for x in first["items"]} == {"g-nets"}


def test_cities_filtered_by_group(api):
    with api.client("viewer") as c:
        group = ok(c.get(f"/api/v1/groups/{api.ids['group_a']}"))
        cities = ok(c.get("/api/v1/cities", params={"group": group["id"], "limit": 200}))
    assert {x["id"] for x in cities["items"]} == {m["city_id"] for m in group["cities"]}
    assert cities["total"] == len(group["cities"])


def test_delegate_crud_and_filters(api):
    with api.client("organizer") as c:
        tokyo = next(x for x in ok(c.get("/api/v1/cities", params={"q": "tokyo"}))["items"])
        created = ok(
            c.post(
                "/api/v1/delegates",
                json={
                    "city_id": tokyo["id"],
                    "name": "佐藤 花子",
                    "email": "Hanako@Example.org",
                    "language": "ja",
                    "zone": "Europe/Paris",
                },
            ),
            201,
        )
        assert created["email"] == "hanako@example.org"
        assert created["effective_zone"] == "Europe/Paris" and created["city"] == "Tokyo"
        of_city = ok(c.get("/api/v1/delegates", params={"city": tokyo["id"], "limit": 200}))
        assert created["id"] in {d["id"] for d in of_city["items"]}
        assert {d["city_id"] for d in of_city["items"]} == {tokyo["id"]}
        presenters = ok(c.get("/api/v1/delegates", params={"role": "presenter", "limit": 200}))
        assert presenters["total"] > 0 and {d["role"] for d in presenters["items"]} == {"presenter"}
        patched = ok(c.patch(f"/api/v1/delegates/{created['id']}", json={"zone": None}))
        assert patched["zone"] is None and patched["effective_zone"] == "Asia/Tokyo"
        twice = c.post(
            "/api/v1/delegates",
            json={"city_id": tokyo["id"], "name": "X", "email": "hanako@example.org"},
        )
        assert twice.status_code == 409
        assert c.delete(f"/api/v1/delegates/{created['id']}").status_code == 204
        assert c.get(f"/api/v1/delegates/{created['id']}").status_code == 404
        # a city of another network is not found
        foreign = c.post(
            "/api/v1/delegates",
            json={"city_id": api.ids["city_b"], "name": "Y", "email": "y@example.org"},
        )
        assert foreign.status_code == 404


def test_group_crud_with_members(api):
    with api.client("organizer") as c:
        cities = ok(c.get("/api/v1/cities", params={"limit": 3}))["items"]
        ids = [x["id"] for x in cities]
        group = ok(
            c.post(
                "/api/v1/groups",
                json={
                    "name": "Heat",
                    "name_ja": "暑熱対策",
                    "members": ids[:2],
                    "observers": ids[2:],
                },
            ),
            201,
        )
        assert [(m["city_id"], m["role"]) for m in group["cities"]] == [
            (ids[0], "member"),
            (ids[1], "member"),
            (ids[2], "observer"),
        ]
        of_city = ok(c.get("/api/v1/groups", params={"city": ids[2], "limit": 200}))
        assert group["id"] in {g["id"] for g in of_city["items"]}
        patched = ok(c.patch(f"/api/v1/groups/{group['id']}", json={"observers": []}))
        assert [m["role"] for m in patched["cities"]] == ["member", "member"]
        both = c.patch(f"/api/v1/groups/{group['id']}", json={"observers": [ids[0]]})
        assert both.status_code == 422
        foreign = c.patch(f"/api/v1/groups/{group['id']}", json={"members": [api.ids["city_b"]]})
        assert foreign.status_code == 422
        assert c.delete(f"/api/v1/groups/{group['id']}").status_code == 204
        in_use = c.delete(f"/api/v1/groups/{api.ids['group_a']}")
        assert in_use.status_code == 409


# --- sessions -----------------------------------------------------------------------------------


def test_session_detail_has_utc_local_times_and_agenda(api):
    session = ok(api.client("viewer").get(f"/api/v1/sessions/{api.ids['session_a']}"))
    assert session["status"] == "draft" and session["start_utc"] is None
    assert session["window_start"].endswith("Z")
    assert session["agenda"] and session["agenda"][0]["position"] == 1
    assert {c["local_start"] for c in session["cities"]} == {None}
    assert session["links"]["grid"].endswith(f"/sessions/{session['id']}/grid")


def test_session_lifecycle_over_http(api):
    """Create, rank, schedule (local time + zone), publish, answer, reschedule, cancel."""
    group = api.ids["group_a"]
    with api.client("organizer") as c:
        created = ok(
            c.post(
                "/api/v1/sessions",
                json={
                    "group_id": group,
                    "title": "Follow-up",
                    "title_ja": "フォローアップ",
                    "zone": "Asia/Tokyo",
                    "window_start": "2023-10-16T00:00",
                    "window_end": "2023-10-17T00:00",
                    "duration_minutes": 90,
                },
            ),
            201,
        )
        sid = created["id"]
        assert created["window_start"] == "2023-10-15T15:00:00Z"
        assert created["status"] == "draft"

        ranked = ok(c.get(f"/api/v1/sessions/{sid}/candidates", params={"top": 3}))
        assert len(ranked["candidates"]) == 3 and ranked["considered"] > 3
        best = ranked["candidates"][0]
        assert best["rank"] == 1 and best["start_utc"].endswith("Z")
        tokyo = next(x for x in best["cities"] if x["city"] == "Tokyo")
        assert tokyo["local_start"].endswith("+09:00")
        costs = [x["cost"] for x in ranked["candidates"]]
        assert costs == sorted(costs)

        # 20:00 in Tokyo, given as local time with a zone
        scheduled = ok(
            c.post(
                f"/api/v1/sessions/{sid}/schedule",
                json={"start": "2023-10-16T20:00", "zone": "Asia/Tokyo"},
            )
        )
        assert scheduled["start_utc"] == "2023-10-16T11:00:00Z"
        assert scheduled["end_utc"] == "2023-10-16T12:30:00Z"
        rows = {x["city"]: x for x in scheduled["cities"]}
        assert rows["Tokyo"]["local_start"] == "2023-10-16T20:00:00+09:00"
        assert rows["Tokyo"]["comfort"] == "evening"
        assert rows["Rotterdam"]["local_start"] == "2023-10-16T13:00:00+02:00"
        assert rows["Rotterdam"]["comfort"] == "working"

        published = ok(c.post(f"/api/v1/sessions/{sid}/publish"))
        assert published["report"]["kind"] == "invite" and published["report"]["written"] > 0
        assert published["session"]["published_at"] is not None
        outbox = ok(c.get(f"/api/v1/sessions/{sid}/outbox", params={"limit": 200}))
        assert outbox["counts"]["invite"]["pending"] == published["report"]["written"]
        assert outbox["total"] == sum(
            n for kind in outbox["counts"].values() for n in kind.values()
        )
        assert outbox["items"][0]["kind"] == "invite"  # due now, before any reminder

        attendance = ok(c.get(f"/api/v1/sessions/{sid}/attendance"))
        assert attendance["counts"]["NEEDS-ACTION"] == len(attendance["delegates"]) > 0
        someone = attendance["delegates"][0]["email"]
        detail = ok(c.get(f"/api/v1/sessions/{sid}"))
        uid = _uid_of(api, sid)
        reply = _reply(uid, someone, "ACCEPTED", sequence=detail["sequence"])
        recorded = ok(
            c.post(
                f"/api/v1/sessions/{sid}/replies",
                content=reply,
                headers={"Content-Type": "text/calendar"},
            )
        )
        assert recorded["recorded"][0]["partstat"] == "ACCEPTED"
        attendance = ok(c.get(f"/api/v1/sessions/{sid}/attendance"))
        assert attendance["counts"]["ACCEPTED"] == 1

        # an hour later, given with an offset
        moved = ok(
            c.post(f"/api/v1/sessions/{sid}/reschedule", json={"start": "2023-10-16T21:00+09:00"})
        )
        assert moved["report"]["kind"] == "update" and moved["session"]["sequence"] == 1
        assert moved["session"]["start_utc"] == "2023-10-16T12:00:00Z"

        cancelled = ok(c.post(f"/api/v1/sessions/{sid}/cancel"))
        assert cancelled["report"]["kind"] == "cancel"
        assert cancelled["session"]["status"] == "cancelled"
        again = ok(c.post(f"/api/v1/sessions/{sid}/cancel"))
        assert again["report"]["already"] is True
        refused = c.post(f"/api/v1/sessions/{sid}/publish")
        assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM


def _uid_of(api, session_id: int) -> str:
    from sqlalchemy import select

    from coordinator.db import make_engine
    from coordinator.models import Session as Model

    engine = make_engine(api.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(Model.uid).where(Model.id == session_id)).scalar_one()
    finally:
        engine.dispose()


def _reply(uid: str, email: str, partstat: str, *, sequence: int = 0) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REPLY\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nSEQUENCE:{sequence}\r\nDTSTAMP:20230915T000000Z\r\n"
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{email}\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_sessions_filtered_by_group_city_and_dates(api):
    with api.client("viewer") as c:
        everything = ok(c.get("/api/v1/sessions", params={"limit": 200}))
        assert everything["total"] >= 5
        group = ok(c.get("/api/v1/sessions", params={"group": api.ids["group_a"]}))
        assert {s["group_id"] for s in group["items"]} == {api.ids["group_a"]}
        # the kickoff day of Flood and Drought and Water Management, Tokyo's date
        day = ok(
            c.get(
                "/api/v1/sessions",
                params={"from": "2023-10-03T00:00", "to": "2023-10-04T00:00", "zone": "Asia/Tokyo"},
            )
        )
        titles = {s["title"].split(" — ")[0] for s in day["items"]}
        assert {"Flood and Drought", "Water Management"} <= titles
        assert "Women's Empowerment" not in titles
        nairobi = ok(c.get("/api/v1/cities", params={"q": "nairobi"}))["items"][0]
        of_city = ok(c.get("/api/v1/sessions", params={"city": nairobi["id"]}))
        assert of_city["total"] >= 1
        assert of_city["total"] < everything["total"]


def test_presentations_with_materials_and_links(api):
    with api.client("organizer") as c:
        agenda = ok(c.get("/api/v1/presentations", params={"session": api.ids["session_a"]}))
        assert [p["position"] for p in agenda["items"]] == sorted(
            p["position"] for p in agenda["items"]
        )
        one = ok(c.get(f"/api/v1/presentations/{agenda['items'][0]['id']}"))
        assert one["materials"]["versions"] == 0
        assert one["links"]["materials"].endswith(f"/presentations/{one['id']}/materials")


def test_feeds_are_ics_behind_a_rotatable_token(api):
    with api.client("organizer") as c:
        sid = api.ids["session_a"]
        c.post(f"/api/v1/sessions/{sid}/schedule", json={"start": "2023-09-28T11:00Z"})
        ok(c.post(f"/api/v1/sessions/{sid}/publish"))
        issued = ok(c.post(f"/api/v1/delegates/{api.ids['delegate_a']}/feed"))
        group_feed = ok(c.post(f"/api/v1/groups/{api.ids['group_a']}/feed"))
        city_feed = ok(c.post(f"/api/v1/cities/{api.ids['city_a']}/feed"))
    assert issued["webcal_url"].startswith("webcal://127.0.0.1:")
    anonymous = httpx.Client(timeout=30)
    for feed in (issued, group_feed, city_feed):
        r = anonymous.get(feed["url"])
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/calendar")
        assert b"BEGIN:VCALENDAR" in r.content and b"METHOD:PUBLISH" in r.content
        assert b"DTSTART:20230928T110000Z" in r.content
    # rotating: the new address works, the old one is gone
    with api.client("organizer") as c:
        rotated = ok(c.post(f"/api/v1/delegates/{api.ids['delegate_a']}/feed"))
    assert rotated["url"] != issued["url"]
    assert anonymous.get(rotated["url"]).status_code == 200
    gone = anonymous.get(issued["url"])
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM


def test_a_delegate_rotates_their_own_feed_with_their_link(api):
    link = api.keys["feed_link_a"]
    mine = httpx.post(
        f"{api.url}/api/v1/delegates/{api.ids['delegate_a']}/feed",
        headers={"Authorization": f"Bearer {link}"},
    )
    assert mine.status_code == 200 and mine.json()["scope"] == "delegate"
    other = api.ids["delegate_a"] + 1
    theirs = httpx.post(
        f"{api.url}/api/v1/delegates/{other}/feed", headers={"Authorization": f"Bearer {link}"}
    )
    assert theirs.status_code == 403


def test_keys_created_listed_and_revoked_by_admin(api):
    with api.client("admin") as c:
        new = ok(c.post("/api/v1/keys", json={"role": "viewer", "network": "other"}), 201)
        assert new["key"].startswith("ck_") and new["network"] == "other"
        listed = ok(c.get("/api/v1/keys"))
        assert new["id"] in {k["id"] for k in listed}
        assert all("key" not in k and "secret_hash" not in k for k in listed)
        assert (
            ok(
                httpx.Client(base_url=api.url).get(
                    "/api/v1/cities", headers={"Authorization": f"Bearer {new['key']}"}
                )
            )["total"]
            == 2
        )
        revoked = ok(c.delete(f"/api/v1/keys/{new['id']}"))
        assert revoked["revoked_at"] is not None
    after = httpx.get(f"{api.url}/api/v1/cities", headers={"Authorization": f"Bearer {new['key']}"})
    assert after.status_code == 401


def test_outbox_status_for_admins(api):
    status = ok(api.client("admin").get("/api/v1/outbox"))
    assert set(status["totals"]) == {"pending", "claimed", "sent", "failed", "dropped"}
    assert status["now"].startswith("2023-09-")  # the shared clock of the server


def test_grid_link_opens_the_grid_without_a_key(api):
    sid = api.ids["session_a"]
    link = ok(api.client("viewer").post(f"/api/v1/sessions/{sid}/grid-link"), 201)
    page = httpx.get(link["url"], timeout=60)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<table" in page.text
    other = httpx.get(link["url"].replace(f"/sessions/{sid}/", f"/sessions/{sid + 1}/"))
    assert other.status_code == 403


def test_healthz_reports_database_and_broker(api):
    r = httpx.get(f"{api.url}/healthz")
    body = ok(r)
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


@pytest.mark.parametrize("path", ["/openapi.json"])
def test_openapi_documents_the_resources(api, path):
    schema = ok(httpx.get(api.url + path))
    paths = schema["paths"]
    assert "/api/v1/sessions/{session_id}/candidates" in paths
    get = paths["/api/v1/sessions/{session_id}"]["get"]
    assert "application/problem+json" in get["responses"]["404"]["content"]
    assert "SessionOut" in str(get["responses"]["200"])


def test_times_in_responses_are_utc(api):
    detail = ok(api.client("viewer_b").get(f"/api/v1/sessions/{api.ids['session_b']}"))
    parsed = datetime.fromisoformat(detail["window_start"].replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and parsed.utcoffset().total_seconds() == 0
    assert parsed == datetime(2023, 10, 10, tzinfo=UTC)


def test_session_page_cache_follows_changes_and_networks(api):
    sid = api.ids["session_b"]
    with api.client("viewer_b") as viewer, api.client("organizer_b") as organizer:
        first = ok(viewer.get(f"/api/v1/sessions/{sid}"))  # rendered and cached
        assert ok(viewer.get(f"/api/v1/sessions/{sid}")) == first
        # the cached page is not served to another network's key
        assert api.client("viewer").get(f"/api/v1/sessions/{sid}").status_code == 404
        city = first["cities"][0]
        ok(organizer.patch(f"/api/v1/cities/{city['city_id']}", json={"name": "Lisboa"}))
        renamed = ok(viewer.get(f"/api/v1/sessions/{sid}"))
        assert renamed["cities"][0]["city"] == "Lisboa"  # at once, not after the cache expires
        moved = ok(
            organizer.post(f"/api/v1/sessions/{sid}/schedule", json={"start": "2023-10-10T09:00Z"})
        )
        assert ok(viewer.get(f"/api/v1/sessions/{sid}"))["start_utc"] == moved["start_utc"]
        ok(organizer.patch(f"/api/v1/cities/{city['city_id']}", json={"name": city["city"]}))


def test_another_process_write_shows_within_the_cache_time(api):
    """A change made outside the server (the CLI, another worker) is seen within about the
    page cache's time to live (2 s by default), never served stale for longer."""
    import time

    from sqlalchemy import update

    from coordinator.db import make_engine
    from coordinator.models import Session as Model

    sid = api.ids["session_b"]
    viewer = api.client("viewer_b")
    before = ok(viewer.get(f"/api/v1/sessions/{sid}"))["title"]
    engine = make_engine(api.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(Model).where(Model.id == sid).values(title="Moved by CLI"))
        deadline = time.monotonic() + 6
        titles = []
        while time.monotonic() < deadline:
            titles.append(ok(viewer.get(f"/api/v1/sessions/{sid}"))["title"])
            if titles[-1] == "Moved by CLI":
                break
            time.sleep(0.2)
        assert titles[-1] == "Moved by CLI", titles
        assert time.monotonic() < deadline
    finally:
        with engine.begin() as connection:
            connection.execute(update(Model).where(Model.id == sid).values(title=before))
        engine.dispose()
