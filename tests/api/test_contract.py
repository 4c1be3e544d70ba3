"""Schemathesis against the OpenAPI schema the server serves, with the organizer key and with no
credentials: no 5xx, and every answer conforms to the schema (status codes, content types,
bodies, headers), for valid and for invalid generated requests. The number of examples per
operation is bounded so that the run stays short (``COORDINATOR_FUZZ_EXAMPLES`` raises it)."""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import running_api

# The API's routes; the submissions' upload and download routes are fuzzed by their own tests.
OURS = re.compile(r"^(/api/v1|/grid$|/sessions/\{session_id\}/grid$|/healthz$|/problems/)")
EXAMPLES = int(os.environ.get("COORDINATOR_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_api(tmp_path_factory):
    """A server of its own: the fuzzer changes and removes data at will."""
    with running_api(tmp_path_factory.mktemp("fuzz")) as server:
        yield server


def fuzz(api, headers: dict[str, str]) -> list[str]:
    """Run every operation of the served schema; the failures, described."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    operations = [op for op in operations if OURS.match(op.path)]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS, timeout=60)

            try:
                run()
            except Unsatisfiable:  # e.g. no invalid request exists for an operation
                continue
            except (Exception, BaseExceptionGroup) as exc:  # keep going, report them all
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    return failures


def test_with_the_organizer_key(fuzzed_api):
    failures = fuzz(fuzzed_api, {"Authorization": f"Bearer {fuzzed_api.keys['organizer']}"})
    assert not failures, "\n\n".join(failures)


def test_without_credentials(fuzzed_api):
    failures = fuzz(fuzzed_api, {})
    assert not failures, "\n\n".join(failures)
