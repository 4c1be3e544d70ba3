"""Serving: ``coordinator serve`` runs the API beside the worker, beat and mail catcher, and
``/healthz`` tells when the database or the broker is down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.api.conftest import free_port, running_api


def test_healthz_is_503_when_the_broker_is_down(tmp_path):
    with running_api(tmp_path, COORDINATOR_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0") as api:
        r = httpx.get(f"{api.url}/healthz", timeout=30)
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    assert body["detail"] == "not answering: broker" and r.headers["retry-after"]


def test_coordinator_serve_runs_the_api_with_the_workers(fresh_database_url, tmp_path):
    port, smtp = free_port(), free_port()
    env = {
        **os.environ,
        "COORDINATOR_DATABASE_URL": fresh_database_url,
        "COORDINATOR_VAR_DIR": str(tmp_path / "var"),
        "COORDINATOR_SMTP_PORT": str(smtp),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "coordinator.cli", "serve", "--port", str(port), "-c", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert health is not None and health.status_code == 200, health and health.text
        assert health.json()["checks"]["broker"]["ok"] is True
        assert (tmp_path / "var" / "log" / "worker.log").exists()  # the worker started too
        index = httpx.get(f"http://127.0.0.1:{port}/api/v1")
        assert index.json()["name"] == "coordinator"
        # Links carry secrets: they are answered, and logged without them.
        for path in (
            "/upload/SECRET-upload.x1",
            "/api/v1/feeds/SECRET-feed.ics",
            "/sessions/1/grid?lang=ja&token=SECRET-grid",
        ):
            answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)
            assert 400 <= answer.status_code < 500, (path, answer.status_code)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output
    assert f"API on http://127.0.0.1:{port}" in output and "stopped" in output
    access = (tmp_path / "var" / "log" / "api.log").read_text(errors="replace")
    assert '"GET /upload/… HTTP/1.1" 403' in access, access[-2000:]
    assert "/api/v1/feeds/….ics" in access and "grid?lang=ja&token=…" in access
    assert "SECRET" not in access
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/v1", timeout=2)
        raise AssertionError("the API is still answering after serve stopped")
    except httpx.HTTPError:
        pass
