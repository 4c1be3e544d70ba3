"""The embedded broker (kombu's SQLAlchemy transport on SQLite) when processes start together.

kombu creates its queue row under a lock that holds within one process only; a worker and a
beat starting at once on a fresh broker file used to race and one died on
``UNIQUE constraint failed: kombu_queue.name``. Here several real processes prepare the same
fresh broker at the same moment: every one must succeed and exactly one row must exist.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

from workers.processes import ROOT

PREPARE = """
import sys, time
from workers.celery_app import app, prepare_embedded_broker
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
print(prepare_embedded_broker(app))
"""


def test_processes_preparing_a_fresh_broker_at_once_all_succeed(tmp_path):
    broker_file = tmp_path / "broker.sqlite3"
    env = {**os.environ, "COORDINATOR_BROKER_URL": f"sqla+sqlite:///{broker_file}"}
    start = time.time() + 3.0  # all of them import first, then prepare at the same instant
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", PREPARE, str(start)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in processes]

    for out, err, code in results:
        assert code == 0, err[-2000:]
        assert out.strip() == "True"
    with sqlite3.connect(broker_file) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM kombu_queue")]
    assert names == ["celery"]


def test_a_non_embedded_broker_is_left_alone(tmp_path):
    env = {**os.environ, "COORDINATOR_BROKER_URL": "redis://127.0.0.1:1/0"}
    out = subprocess.run(
        [sys.executable, "-c", PREPARE, "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
