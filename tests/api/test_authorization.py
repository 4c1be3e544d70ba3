"""Authorization: every route of the application against every kind of caller.

The routes come from ``app.routes``; each must be classified in :data:`POLICY`, so a route added
without deciding who may call it fails :func:`test_every_route_has_a_policy`. Each caller gets,
for each route, either an answer other than 401/403 (allowed) or exactly the refusal expected
(401 without or with a wrong credential, 403 for too weak a role or a link for something else,
404 for another network's resource) and never a 5xx.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from coordinator.api import app

KEYS = ("admin", "organizer", "viewer", "organizer_b", "viewer_b")
LINKS = ("feed_link", "rsvp_link", "grid_link", "upload_link")
CALLERS = ("anonymous", "bad_key", "bad_link", *KEYS, *LINKS)

READ = frozenset({"admin", "organizer", "viewer"})
WRITE = frozenset({"admin", "organizer"})
ADMIN = frozenset({"admin"})
EVERYONE = frozenset(CALLERS)

# (method, path) -> who may call it (network A's resources in the path), and whether it is
# one of ours (exact refusals) or another area's (401/403/404 accepted as refusals).
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/docs/oauth2-redirect"): EVERYONE,
    ("GET", "/redoc"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/problems/{slug}"): EVERYONE,
    ("GET", "/api/v1"): EVERYONE,
    ("GET", "/api/v1/feeds/{token}.ics"): EVERYONE,  # the token in the path is the credential
    ("GET", "/api/v1/networks"): READ,
    ("POST", "/api/v1/networks/import"): WRITE,
    ("GET", "/api/v1/cities"): READ,
    ("POST", "/api/v1/cities"): WRITE,
    ("GET", "/api/v1/cities/{city_id}"): READ,
    ("PATCH", "/api/v1/cities/{city_id}"): WRITE,
    ("DELETE", "/api/v1/cities/{city_id}"): WRITE,
    ("POST", "/api/v1/cities/{city_id}/feed"): WRITE,
    ("GET", "/api/v1/delegates"): READ,
    ("POST", "/api/v1/delegates"): WRITE,
    ("GET", "/api/v1/delegates/{delegate_id}"): READ,
    ("PATCH", "/api/v1/delegates/{delegate_id}"): WRITE,
    ("DELETE", "/api/v1/delegates/{delegate_id}"): WRITE,
    ("POST", "/api/v1/delegates/{delegate_id}/feed"): WRITE | {"feed_link"},
    ("POST", "/api/v1/delegates/{delegate_id}/links"): WRITE,
    ("GET", "/api/v1/groups"): READ,
    ("POST", "/api/v1/groups"): WRITE,
    ("GET", "/api/v1/groups/{group_id}"): READ,
    ("PATCH", "/api/v1/groups/{group_id}"): WRITE,
    ("DELETE", "/api/v1/groups/{group_id}"): WRITE,
    ("POST", "/api/v1/groups/{group_id}/feed"): WRITE,
    ("GET", "/api/v1/sessions"): READ,
    ("POST", "/api/v1/sessions"): WRITE,
    ("GET", "/api/v1/sessions/{session_id}"): READ,
    ("GET", "/api/v1/sessions/{session_id}/candidates"): READ,
    ("POST", "/api/v1/sessions/{session_id}/schedule"): WRITE,
    ("GET", "/api/v1/sessions/{session_id}/outbox"): WRITE,
    ("POST", "/api/v1/sessions/{session_id}/grid-link"): READ,
    ("POST", "/api/v1/sessions/{session_id}/publish"): WRITE,
    ("POST", "/api/v1/sessions/{session_id}/reschedule"): WRITE,
    ("POST", "/api/v1/sessions/{session_id}/cancel"): WRITE,
    ("GET", "/api/v1/sessions/{session_id}/attendance"): READ,
    ("POST", "/api/v1/sessions/{session_id}/replies"): WRITE | {"rsvp_link"},
    ("GET", "/api/v1/presentations"): READ | {"upload_link"},
    ("GET", "/api/v1/presentations/{presentation_id}"): READ | {"upload_link"},
    ("POST", "/api/v1/presentations/{presentation_id}/upload-link"): WRITE,
    ("GET", "/api/v1/keys"): ADMIN,
    ("POST", "/api/v1/keys"): ADMIN,
    ("DELETE", "/api/v1/keys/{key_id}"): ADMIN,
    ("GET", "/api/v1/outbox"): ADMIN,
    ("GET", "/sessions/{session_id}/grid"): READ | {"grid_link"},
    ("GET", "/grid"): READ,
    # the submissions' area: presenters' uploads and organizers' downloads
    ("POST", "/presentations/{presentation_id}/materials"): frozenset({"upload_link"}),
    ("GET", "/presentations/{presentation_id}/materials"): READ,
    ("GET", "/presentations/{presentation_id}/materials/{version}"): READ,
    ("GET", "/sessions/{session_id}/materials"): READ,
    ("GET", "/sessions/{session_id}/pack"): READ,
    ("GET", "/upload/{token}"): EVERYONE,  # the token in the path is the credential
    ("POST", "/upload/{token}"): EVERYONE,
}
OURS = re.compile(r"^(/api/v1|/grid$|/sessions/\{session_id\}/grid$|/healthz$|/problems/)")
PATH_PARAMS = re.compile(r"\{(\w+)\}")


def all_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the application answers, however routers are nested."""
    found: set[tuple[str, str]] = set()

    def visit(route) -> None:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                visit(context)
            return
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))

    for route in app.routes:
        visit(route)
    return found


def test_every_route_has_a_policy():
    routes = all_routes()
    assert len(routes) > 50
    assert routes - POLICY.keys() == set(), "classify the new routes in POLICY"
    assert POLICY.keys() - routes == set(), "POLICY names routes that do not exist"


@pytest.fixture(scope="module")
def callers(api):
    """Credentials of every kind; the presenter's upload link needs a scheduled session."""
    with api.client("organizer") as c:
        sid = api.ids["session_a"]
        r = c.post(f"/api/v1/sessions/{sid}/schedule", json={"start": "2023-09-28T11:00Z"})
        assert r.status_code == 200, r.text
        r = c.post(f"/api/v1/presentations/{api.ids['presentation_a']}/upload-link")
        assert r.status_code == 201, r.text
        upload = r.json()["token"]
        r = c.post(f"/api/v1/cities/{api.ids['city_a']}/feed")
        feed = r.json()["url"].rsplit("/", 1)[1].removesuffix(".ics")
    tokens = {
        "anonymous": None,
        "bad_key": "ck_0123456789ab_not-a-key",
        "bad_link": "eyJwIjoiZ3JpZCJ9.bm90LWEtc2lnbmF0dXJl",
        **{k: api.keys[k] for k in KEYS},
        "feed_link": api.keys["feed_link_a"],
        "rsvp_link": api.keys["rsvp_link_a"],
        "grid_link": api.keys["grid_link_a"],
        "upload_link": upload,
    }
    return tokens, {"upload": upload, "feed": feed}


def fill(api, path: str, secrets: dict[str, str], *, missing: bool = False) -> str:
    values = {
        "session_id": api.ids["session_a"],
        "city_id": api.ids["city_a"],
        "delegate_id": api.ids["delegate_a"],
        "group_id": api.ids["group_a"],
        "presentation_id": api.ids["presentation_a"],
        "key_id": 1,
        "slug": "validation",
        "version": "current",
    }
    if missing:  # an id nobody has: an allowed caller learns 404 and nothing is removed
        values.update({k: 999_999 for k in values if k.endswith("_id")})
    values["token"] = secrets["feed"] if path.startswith("/api/v1/feeds") else secrets["upload"]
    return PATH_PARAMS.sub(lambda m: str(values[m.group(1)]), path)


def call(client: httpx.Client, method: str, url: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # Bodies that are well-formed but invalid, so that an allowed caller writes nothing.
    kwargs: dict = {}
    if method in ("POST", "PATCH"):
        if url.endswith("/replies") or url.endswith("/import"):
            kwargs["content"] = b"not a calendar, not YAML: {"
        elif "/materials" in url or url.startswith("/upload/"):
            kwargs["content"] = b""
        else:
            kwargs["json"] = {"group_id": "not a number", "city_id": "x", "role": "nobody"}
    query = {"city": "Tokyo", "from": "2023-10-03T00:00Z", "to": "2023-10-04T00:00Z"}
    params = {**query, "duration": "60"} if url == "/grid" else None
    return client.request(method, url, headers=headers, params=params, **kwargs)


def may_call(caller: str, path: str, allowed: frozenset[str]) -> bool:
    """Network B's keys may use the collections (they see their own network there)."""
    own_role = {"organizer_b": "organizer", "viewer_b": "viewer"}.get(caller)
    return caller in allowed or (own_role in allowed and not PATH_PARAMS.search(path))


def expected_refusal(caller: str, path: str, allowed: frozenset[str]) -> set[int]:
    if not OURS.match(path):
        return {401, 403, 404}
    if caller in ("anonymous", "bad_key", "bad_link"):
        return {401}
    if caller in LINKS:
        return {403}
    if caller.endswith("_b") and PATH_PARAMS.search(path) and (allowed & {"viewer", "organizer"}):
        return {404}  # another network's resource does not exist for this key
    return {403}


@pytest.mark.parametrize("route", sorted(POLICY), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_against_every_caller(api, callers, route):
    tokens, secrets = callers
    method, path = route
    allowed = POLICY[route]
    outcomes = {}
    client = httpx.Client(base_url=api.url, timeout=120)
    # Refusals first (with network A's real resources), then the allowed callers.
    for caller in sorted(CALLERS, key=lambda c: may_call(c, path, allowed)):
        permitted = may_call(caller, path, allowed)
        destructive = method == "DELETE" or path.endswith(("/cancel", "/publish"))
        url = fill(api, path, secrets, missing=permitted and destructive)
        response = call(client, method, url, tokens[caller])
        outcomes[caller] = response.status_code
        assert response.status_code < 500, f"{caller}: {response.status_code} {response.text}"
        if permitted:
            assert response.status_code not in (401, 403), f"{caller}: {response.text}"
            assert response.status_code != 429
        else:
            assert response.status_code in expected_refusal(caller, path, allowed), (
                f"{caller} on {method} {path}: {response.status_code} {response.text}"
            )
            if response.status_code in (401, 403, 404) and OURS.match(path):
                assert response.headers["content-type"] == "application/problem+json"
    client.close()
    assert set(outcomes) == set(CALLERS)


def test_failed_authentication_is_rate_limited_per_client(tmp_path):
    from tests.api.conftest import running_api

    with (
        running_api(
            tmp_path, COORDINATOR_API_AUTH_BURST="3", COORDINATOR_API_AUTH_REFILL_SECONDS="1"
        ) as api,
        httpx.Client(base_url=api.url) as c,
    ):
        wrong = {"Authorization": "Bearer ck_0123456789ab_wrong"}
        first = [c.get("/api/v1/cities", headers=wrong).status_code for _ in range(3)]
        assert first == [401, 401, 401]
        limited = c.get("/api/v1/cities", headers=wrong)
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        # while limited, even the right key waits: guessing cannot go on
        right = {"Authorization": f"Bearer {api.keys['viewer']}"}
        assert c.get("/api/v1/cities", headers=right).status_code == 429
        # requests without credentials are not failures
        assert c.get("/api/v1").status_code == 200
        time.sleep(float(limited.headers["retry-after"]) + 0.2)
        assert c.get("/api/v1/cities", headers=right).status_code == 200


def test_an_expired_link_is_refused(api):
    import json
    from base64 import urlsafe_b64encode

    from coordinator.services.keys import _signature

    payload = (
        urlsafe_b64encode(
            json.dumps({"p": "grid", "r": "session", "i": api.ids["session_a"], "e": 1}).encode()
        )
        .decode()
        .rstrip("=")
    )
    expired = f"{payload}.{_signature(payload)}"
    r = httpx.get(f"{api.url}/sessions/{api.ids['session_a']}/grid", params={"token": expired})
    assert r.status_code == 401
