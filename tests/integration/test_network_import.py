"""Importing the network file: idempotent, all-or-nothing, every error with its place."""

from __future__ import annotations

import copy

import pytest
import yaml
from sqlalchemy import func, select

from coordinator.models import City, Delegate, Presentation, Session, WorkingGroup
from coordinator.services.network import import_network, network_overview
from coordinator.services.network_file import NetworkFileError
from tests.conftest import KICKOFF

KICKOFF_DOC = yaml.safe_load(KICKOFF.read_text(encoding="utf-8"))


def write(tmp_path, doc, name="network.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def counts(db):
    return {
        model.__tablename__: db.scalar(select(func.count()).select_from(model))
        for model in (City, Delegate, WorkingGroup, Session, Presentation)
    }


def test_kickoff_imports_the_whole_network(db):
    report = import_network(db, KICKOFF)
    assert report.created["cities"] == 47
    assert report.created["groups"] == 5
    assert report.created["sessions"] == 5
    assert report.created["presentations"] == 32
    data = network_overview(db)
    tokyo = next(c for c in data["cities"] if c["name"] == "Tokyo")
    assert tokyo["name_ja"] == "東京" and tokyo["zone"] == "Asia/Tokyo"
    by_name = {g["name"]: g for g in data["groups"]}
    assert by_name["Flood and Drought"]["members"] == [
        "Tokyo",
        "Taipei",
        "Jakarta",
        "Rotterdam",
        "Brisbane",
        "Nairobi",
        "Thinadhoo",
    ]
    assert {s["status"] for s in data["sessions"]} == {"draft"}
    assert any(d["language"] == "ja" for d in data["delegates"])
    assert all(d["email"].endswith("@example.org") for d in data["delegates"])
    cities_with_delegates = {d["city"] for d in data["delegates"]}
    assert cities_with_delegates == {c["name"] for c in data["cities"]}


def test_importing_twice_changes_nothing(db):
    import_network(db, KICKOFF)
    before = network_overview(db)
    report = import_network(db, KICKOFF)
    assert not report.changed, (report.created, report.updated)
    assert network_overview(db) == before


def test_a_changed_file_updates_in_place(db, tmp_path):
    import_network(db, KICKOFF)
    doc = copy.deepcopy(KICKOFF_DOC)
    doc["cities"][0]["aliases"] = ["Renamed alias"]
    report = import_network(db, write(tmp_path, doc))
    assert report.updated["cities"] == 1 and not report.created
    assert db.scalar(select(City).where(City.name == doc["cities"][0]["name"])).aliases == [
        "Renamed alias"
    ]


def test_a_file_with_errors_reports_every_one_and_writes_nothing(db, tmp_path):
    doc = copy.deepcopy(KICKOFF_DOC)
    doc["cities"][1]["zone"] = "Asia/Tokio"
    del doc["cities"][2]["country"]
    doc["groups"][0]["members"].append("Atlantis")
    doc["delegates"].append({**doc["delegates"][0], "name": "Someone Else"})
    before = counts(db)
    with pytest.raises(NetworkFileError) as caught:
        import_network(db, write(tmp_path, doc))
    details = "\n".join(caught.value.details)
    assert len(caught.value.details) == 4, details
    assert "cities[1].zone" in details and "Asia/Tokyo" in details
    assert "cities[2].country" in details and "Field required" in details
    assert "Atlantis" in details and "groups[0].members" in details
    assert "duplicate email" in details
    assert all(line.startswith("line ") for line in caught.value.details)
    assert counts(db) == before


def test_malformed_yaml_names_the_line(db, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("network:\n  name: [unclosed\ncities: []\n", encoding="utf-8")
    with pytest.raises(NetworkFileError) as caught:
        import_network(db, path)
    assert "malformed YAML" in caught.value.details[0]
    assert caught.value.details[0].startswith("line ")


def test_unknown_zone_is_kept_as_unknown_not_guessed(db, tmp_path):
    doc = copy.deepcopy(KICKOFF_DOC)
    doc["cities"].append({"name": "Nowhere", "country": "XX", "zone": "unknown"})
    import_network(db, write(tmp_path, doc))
    assert db.scalar(select(City.zone).where(City.name == "Nowhere")) == "unknown"


def test_presenter_must_belong_to_the_presenting_city(db, tmp_path):
    doc = copy.deepcopy(KICKOFF_DOC)
    tokyo_delegate = next(d["email"] for d in doc["delegates"] if d["city"] == "Tokyo")
    first = doc["sessions"][0]["presentations"][0]
    assert first["city"] != "Tokyo"
    first["presenter"] = tokyo_delegate
    with pytest.raises(NetworkFileError, match="1 error") as caught:
        import_network(db, write(tmp_path, doc))
    assert "is not a delegate of" in caught.value.details[0]
