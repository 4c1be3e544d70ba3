"""Bad input gets a 4xx problem document (RFC 9457) naming the field, and writes nothing."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"


def problem_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status"} <= set(body)
    assert body["instance"] == response.request.url.path
    return body


def fields_of(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors") or []}


@pytest.fixture
def unchanged(api):
    """Asserts after the test that no table gained or lost a row."""
    before = api.counts()
    yield
    assert api.counts() == before


def session_body(api, **changes):
    body = {
        "group_id": api.ids["group_a"],
        "title": "Check",
        "window_start": "2023-10-20T00:00:00Z",
        "window_end": "2023-10-21T00:00:00Z",
        "duration_minutes": 60,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_malformed_json_is_400(api, unchanged):
    with api.client("organizer") as c:
        r = c.post(
            "/api/v1/sessions",
            content=b'{"group_id": 1, "title": ',
            headers={"Content-Type": "application/json"},
        )
    body = problem_of(r, 400)
    assert body["type"] == "/problems/malformed-body" and "JSON" in body["detail"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"group_id": "one"}, "body.group_id"),
        ({"duration_minutes": 0}, "body.duration_minutes"),
        ({"duration_minutes": 10_000}, "body.duration_minutes"),
        ({"title": ["a list"]}, "body.title"),
        ({"window_start": "next tuesday"}, "body.window_start"),
        ({"title": None, "group_id": None}, "body.title"),
    ],
)
def test_wrong_types_name_the_field(api, unchanged, changes, field):
    r = api.client("organizer").post("/api/v1/sessions", json=session_body(api, **changes))
    body = problem_of(r, 422)
    assert body["type"] == "/problems/validation"
    assert field in fields_of(body), body


def test_unknown_zone_in_body_and_query(api, unchanged):
    with api.client("organizer") as c:
        r = c.post(
            "/api/v1/sessions",
            json=session_body(api, zone="Asia/Tokio", window_start="2023-10-20T09:00"),
        )
        body = problem_of(r, 422)
        assert fields_of(body) == {"body.zone"}
        assert "Asia/Tokyo" in body["errors"][0]["message"]  # a suggestion
        city = c.post("/api/v1/cities", json={"name": "Nowhere", "country": "XX", "zone": "Mars"})
        assert fields_of(problem_of(city, 422)) == {"body.zone"}
        q = c.get("/api/v1/sessions", params={"from": "2023-10-01T00:00", "zone": "Atlantis"})
        assert fields_of(problem_of(q, 422)) == {"query.zone"}


def test_a_naive_time_needs_a_zone(api, unchanged):
    r = api.client("organizer").post(
        f"/api/v1/sessions/{api.ids['session_a']}/schedule", json={"start": "2023-09-28T20:00"}
    )
    body = problem_of(r, 422)
    assert fields_of(body) == {"body.start"} and "offset" in body["detail"]


def test_a_local_time_the_clocks_skipped_is_refused(api, unchanged):
    # New South Wales moved to UTC+11 at 02:00 on 2023-10-01: 02:30 did not exist in Sydney
    r = api.client("organizer").post(
        "/api/v1/sessions",
        json=session_body(
            api, zone="Australia/Sydney", window_start="2023-10-01T02:30", window_end=None
        )
        | {"window_end": "2023-10-02T00:00"},
    )
    body = problem_of(r, 422)
    assert fields_of(body) == {"body.window_start"} and "does not exist" in body["detail"]


@pytest.mark.parametrize(
    "start, end, needle",
    [
        ("2023-01-01T00:00Z", "2025-01-01T00:00Z", "366"),  # a window too large
        ("2023-10-21T00:00Z", "2023-10-20T00:00Z", "after"),  # backwards
        ("0001-01-01T00:00Z", "2023-10-20T00:00Z", "1900"),  # out of range
    ],
)
def test_windows_out_of_bounds(api, unchanged, start, end, needle):
    r = api.client("organizer").post(
        "/api/v1/sessions", json=session_body(api, window_start=start, window_end=end)
    )
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_grid_window_too_large_names_the_parameter(api, unchanged):
    r = api.client("viewer").get(
        "/grid",
        params={
            "city": ["Tokyo"],
            "from": "2023-01-01T00:00Z",
            "to": "2024-06-01T00:00Z",
            "duration": 60,
        },
    )
    body = problem_of(r, 422)
    assert fields_of(body) == {"query.from"} and "366" in body["detail"]


def test_japanese_text_is_stored_and_read_back(api):
    with api.client("organizer") as c:
        r = c.post(
            "/api/v1/sessions",
            json=session_body(api, title="水管理 第二回", note="議題：渇水対策と下水道"),
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        again = c.get(f"/api/v1/sessions/{sid}").json()
    assert again["title"] == "水管理 第二回" and again["note"] == "議題：渇水対策と下水道"


def test_japanese_city_names_resolve_in_the_grid_and_unknown_ones_are_422(api, unchanged):
    with api.client("viewer") as c:
        good = c.get(
            "/grid",
            params={
                "city": ["東京", "ロッテルダム"],
                "from": "2023-10-03T09:00",
                "to": "2023-10-03T23:00",
                "zone": "Asia/Tokyo",
                "duration": 90,
            },
        )
        assert good.status_code == 200 and "Rotterdam" in good.text
        bad = c.get(
            "/grid",
            params={
                "city": ["東京都庁舎"],
                "from": "2023-10-03T00:00Z",
                "to": "2023-10-04T00:00Z",
                "duration": 90,
            },
        )
    body = problem_of(bad, 422)
    assert fields_of(body) == {"query.city"} and "東京都庁舎" in body["detail"]


def test_text_over_the_column_length_is_422_not_a_database_error(api, unchanged):
    r = api.client("organizer").post("/api/v1/sessions", json=session_body(api, title="長" * 301))
    assert fields_of(problem_of(r, 422)) == {"body.title"}


def test_nul_characters_are_refused(api, unchanged):
    r = api.client("organizer").post(
        "/api/v1/cities", json={"name": "Bad\x00City", "country": "JP", "zone": "Asia/Tokyo"}
    )
    assert fields_of(problem_of(r, 422)) == {"body.name"}


def test_oversized_bodies_are_413(api, unchanged):
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    with api.client("organizer") as c:
        declared = c.post(
            "/api/v1/cities", content=huge, headers={"Content-Type": "application/json"}
        )
        assert problem_of(declared, 413)["type"] == "/problems/body-too-large"

        def chunks():
            for _ in range(40):
                yield b"x" * 65536

        streamed = c.post(
            "/api/v1/networks/import", content=chunks(), headers={"Content-Type": "text/plain"}
        )
    assert problem_of(streamed, 413)["type"] == "/problems/body-too-large"


def test_unknown_routes_and_methods_are_problems(api):
    with api.client("viewer") as c:
        assert problem_of(c.get("/api/v1/nothing-here"), 404)["type"] == "/problems/not-found"
        method = c.put("/api/v1/sessions")
        assert problem_of(method, 405)["title"] == "Method Not Allowed"
        assert "GET" in method.headers["allow"]
        missing = c.get("/api/v1/sessions/999999")
        assert problem_of(missing, 404)["type"] == "/problems/not-found"
        huge_id = c.get(f"/api/v1/sessions/{2**40}")
        assert fields_of(problem_of(huge_id, 422)) == {"path.session_id"}


def test_bad_query_parameters(api):
    with api.client("viewer") as c:
        assert fields_of(problem_of(c.get("/api/v1/cities?limit=0"), 422)) == {"query.limit"}
        assert fields_of(problem_of(c.get("/api/v1/cities?offset=-1"), 422)) == {"query.offset"}
        r = c.get("/api/v1/sessions", params={"status": "postponed"})
        assert fields_of(problem_of(r, 422)) == {"query.status"}


def test_reply_that_is_not_a_calendar(api, unchanged):
    r = api.client("organizer").post(
        f"/api/v1/sessions/{api.ids['session_a']}/replies",
        content="これはカレンダーではありません".encode(),
        headers={"Content-Type": "text/calendar"},
    )
    body = problem_of(r, 422)
    assert fields_of(body) == {"body"} and "iCalendar" in body["detail"]


def test_problem_types_are_documented(api):
    with api.client() as c:
        page = c.get("/problems/validation")
        assert page.status_code == 200 and "field" in page.text
        assert c.get("/problems/nothing").status_code == 404


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/presentations/{big}/materials"),
        ("GET", "/presentations/{big}/materials"),
        ("GET", "/presentations/{big}/materials/1"),
        ("GET", "/sessions/{big}/materials"),
        ("GET", "/sessions/{big}/pack"),
        ("GET", "/api/v1/sessions/{big}"),
    ],
)
def test_ids_beyond_any_database_integer_are_422_not_500(api, unchanged, method, path):
    with api.client("organizer") as c:
        r = c.request(method, path.format(big=10**30))
    body = problem_of(r, 422)
    assert fields_of(body) and all(f.startswith("path.") for f in fields_of(body)), body
