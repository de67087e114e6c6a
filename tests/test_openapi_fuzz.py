# SPDX-License-Identifier: Apache-2.0
"""Schemathesis fuzzes a live server (SQLite, noauth) from the OpenAPI documents it serves:
no answer is a 5xx, and every answer is one the document describes, in its shape."""

from __future__ import annotations

import collections
import os
import re
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import checks

from freezer_api.api import openapi, routes
from tests.conftest import make_action, make_backup, make_job, make_v1_backup
from tests.processes import serving

pytestmark = pytest.mark.slow

#: examples per operation; FREEZER_FUZZ_EXAMPLES raises it for a longer run by hand
EXAMPLES = int(os.environ.get("FREEZER_FUZZ_EXAMPLES", "12"))
#: the checks run on every answer
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
#: the fuzzer's identity (noauth), and the project its v2 URLs name: where the records
#: seeded below are, so that lists answer documents of every kind for the checks to read
HEADERS = {"X-User-Id": "fuzzer", "X-Roles": "admin"}
PROJECT = "fuzzed"


def seed(base: str) -> None:
    """A record of every kind, in both versions, owned by the fuzzer."""
    headers = {**HEADERS, "X-Project-Id": PROJECT}
    v2 = f"{base}/v2/{PROJECT}"
    posts = [
        ("/v1/backups", make_v1_backup()),
        ("/v1/clients", {"client_id": "fuzzed-v1", "hostname": "h1"}),
        (f"{v2}/backups", make_backup()),
        (f"{v2}/backups", make_backup(curr_backup_level=1)),
        (f"{v2}/backups", make_backup(status="error", curr_backup_level=1)),
        (f"{v2}/clients", {"client_id": "fuzzed", "hostname": "h1"}),
        (f"{v2}/actions", {"freezer_action": make_action(), "max_retries": 2}),
        (f"{v2}/jobs", make_job("fuzzed")),
        ("/v1/jobs", make_job("fuzzed-v1")),
        (f"{v2}/sessions", {"schedule": {}, "description": "seeded"}),
        (f"{v2}/objectives", {"max_age_seconds": 86400}),
    ]
    for path, body in posts:
        url = path if path.startswith("http") else f"{base}{path}"
        answer = requests.post(url, json=body, headers=headers, timeout=10)
        assert answer.status_code == 201, (path, answer.text)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("fuzzed")
    with serving(directory) as served:
        seed(served.base)
        yield served.base
    log = (directory / "log").read_text()
    assert "Traceback" not in log, log[-4000:]
    statuses = collections.Counter(re.findall(r'" status: (\d+) ', log))
    print(
        f"\nfuzzed: {sum(statuses.values())} requests; statuses: {dict(sorted(statuses.items()))}"
    )


def _schema(version: str) -> Any:
    """Schemathesis's view of the document the server serves (the test below checks that
    the live server serves this one)."""
    config = schemathesis.Config.from_dict({"generation": {"mode": "all", "deterministic": True}})
    return schemathesis.openapi.from_dict(openapi.document(VERSIONS[version]), config=config)


VERSIONS = {version.id: version for version in routes.VERSIONS}
V2 = _schema("v2")
V1 = _schema("v1")


def test_the_live_server_serves_the_documents_fuzzed(live_server: str) -> None:
    for version in VERSIONS.values():
        served = requests.get(f"{live_server}/{version.id}/openapi.json", timeout=10)
        assert served.json() == openapi.document(version)


SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


def _is_http(value: str) -> bool:
    """A header value HTTP allows (RFC 9110 field-value: visible ASCII, space, tab, and
    the bytes 0x80-0xFF); granian refuses any other with an empty 400 before the app."""
    return all(char == "\t" or " " <= char <= "~" or "\x80" <= char <= "\xff" for char in value)


def call_and_validate(case: Any, base: str) -> None:
    if not all(_is_http(value) for value in (case.headers or {}).values()):
        answer = case.call(base_url=base, headers=HEADERS, timeout=30)
        assert answer.status_code == 400, answer.text
        return
    case.call_and_validate(base_url=base, headers=HEADERS, checks=CHECKS, timeout=30)


@V2.parametrize()  # type: ignore[untyped-decorator]
@SETTINGS
def test_v2_answers_as_its_document_says(case: Any, live_server: str) -> None:
    case.path_parameters["project_id"] = PROJECT
    call_and_validate(case, live_server)


@V1.parametrize()  # type: ignore[untyped-decorator]
@SETTINGS
def test_v1_answers_as_its_document_says(case: Any, live_server: str) -> None:
    call_and_validate(case, live_server)
