"""``coordinator keys``: a key is printed once and stored hashed; mistakes exit 2 with one line."""

from __future__ import annotations

from sqlalchemy import select

from coordinator.db import make_engine
from coordinator.models import ApiKey
from coordinator.services.keys import digest
from tests.conftest import KICKOFF


def test_keys_create_list_revoke(run_cli):
    assert run_cli("network", "import", str(KICKOFF)).returncode == 0
    created = run_cli("keys", "create", "--role", "organizer", "--network", "g-nets")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("ck_") and len(key) > 40
    assert "shown this once" in created.stderr
    engine = make_engine(run_cli.database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(select(ApiKey)).one()
    finally:
        engine.dispose()
    assert row.secret_hash == digest(key) and key not in row.secret_hash
    assert row.role == "organizer" and row.network_id is not None
    listed = run_cli("keys", "list")
    assert row.prefix in listed.stdout and key not in listed.stdout
    assert run_cli("keys", "revoke", str(row.id)).returncode == 0
    assert (
        "revoked" in run_cli("keys", "list").stdout or row.prefix in run_cli("keys", "list").stdout
    )


def test_keys_create_mistakes(run_cli):
    no_network = run_cli("keys", "create", "--role", "organizer")
    assert no_network.returncode == 2
    assert (
        no_network.stderr.strip() == "error: --network: no network imported yet: import one first"
    )
    assert run_cli("network", "import", str(KICKOFF)).returncode == 0
    unknown = run_cli("keys", "create", "--role", "viewer", "--network", "nope")
    assert unknown.returncode == 2 and "no network 'nope' (known: g-nets)" in unknown.stderr
    role = run_cli("keys", "create", "--role", "boss")
    assert role.returncode == 2 and "--role: 'boss'" in role.stderr
    admin = run_cli("keys", "create", "--role", "admin", "--network", "g-nets")
    assert admin.returncode == 2 and "admin key is for every network" in admin.stderr
