# SPDX-License-Identifier: Apache-2.0
"""Every route, any method, hostile bytes: never a 5xx, always the JSON error body.

Seeded (``derandomize``) and bounded, on every engine under test: the requests are built
from the JSON home's routes (and the sub-routes it does not list), ids that exist and ids
that do not, bodies that are random bytes, JSON of any shape (deep, huge numbers, escapes
of U+0000 and of lone surrogates), the same JSON in UTF-16 or UTF-32, or with raw
surrogate bytes, and identity headers of any length.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freezer_api.api import routes
from tests.conftest import make_action, make_backup, make_job, make_v1_backup, seeded

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SUB_ROUTES = (
    "/v2/{project_id}/jobs/{job_id}/event",
    "/v2/{project_id}/sessions/{session_id}/action",
    "/v2/{project_id}/sessions/{session_id}/jobs/{job_id}",
    "/v1/jobs/{job_id}/event",
    "/v1/sessions/{session_id}/action",
    "/v1/sessions/{session_id}/jobs/{job_id}",
)


def allowed() -> list[tuple[str, str]]:
    """(route, method) of every method the JSON home lists, and the sub-routes'."""
    pairs = {(route, "POST") for route in SUB_ROUTES} | {(route, "PUT") for route in SUB_ROUTES}
    for version in routes.VERSIONS:
        for resource in routes.json_home(version)["resources"].values():
            route = (resource.get("href-template") or resource["href"]).split("{?")[0]
            pairs |= {(route, method) for method in resource["hints"]["allow"]}
    return sorted(pairs)


ALLOWED = allowed()
#: what writes: where a hostile body reaches the storage
WRITES = [(route, method) for route, method in ALLOWED if method in ("POST", "PUT", "PATCH")]
TEMPLATES = sorted({route for route, _ in ALLOWED} | {"/", "/v1", "/v2", "/healthcheck"})

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", " ", "etc ", "\u00e9t\u00e9", "a" * 300]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
#: text that JSON can escape but no engine may store, and numbers beyond a double
POISON = ['"\\u0000"', '"\\ud800"', '"a\\udfffb"', "1e400", "-1e999", '"\\u0000\\ud800"']


def base_for(path: str, method: str) -> dict[str, Any]:
    """A valid body for ``method`` on ``path``: what the fuzzer then spoils."""
    if method == "GET":
        return {"match": [{"backup_name": "etc"}], "x": "etc"}
    parts = path.split("/")
    kind = parts[3] if parts[1] == "v2" and len(parts) > 3 else parts[2] if len(parts) > 2 else ""
    if path.endswith("/event"):
        return {"event": "stop"}
    if path.endswith("/action"):
        return {"action": "start", "current_tag": 0}
    return {
        "backups": make_backup() if parts[1] == "v2" else make_v1_backup(),
        "clients": {"client_id": "fuzz_other", "hostname": "other"},
        "jobs": make_job("fuzz_host"),
        "actions": {"freezer_action": make_action()},
        "sessions": {"schedule": {}, "description": "x"},
    }.get(kind, make_backup())


@st.composite
def bodies(draw: Any, base: dict[str, Any]) -> bytes | None:
    kind = draw(
        st.sampled_from(
            ["none", "bytes", "json", "valid", "poisoned", "poisoned", "deep", "deep"]
            + ["encoded", "encoded", "raw", "raw"]
        )
    )
    if kind == "none":
        return None
    if kind == "bytes":
        return bytes(draw(st.binary(max_size=64)))
    spoiled = {**base, "description": "MARK"} if "description" in base else {**base, "x": "MARK"}
    if kind in ("json", "valid"):
        document = {**base, "extra": draw(documents)} if kind == "json" else base
        return json.dumps(document, ensure_ascii=draw(st.booleans())).encode()
    if kind == "deep":
        depth = draw(st.sampled_from([15, 21, 33, 100, 340, 400]))
        inner = "[" * depth + draw(st.sampled_from(POISON)) + "]" * depth
        return json.dumps(spoiled).replace('"MARK"', inner).encode()
    text = json.dumps(spoiled).replace('"MARK"', draw(st.sampled_from(POISON)))
    if kind == "encoded":
        return text.encode(draw(st.sampled_from(["utf-16", "utf-16-be", "utf-32", "utf-32-le"])))
    if kind == "raw":
        # a lone surrogate as UTF-8 bytes (ED B3 BF), not as an escape
        return json.dumps(spoiled).encode().replace(b"MARK", b"a\xed\xb3\xbfb")
    return text.encode()


ids = st.one_of(
    st.just("existing"),
    st.just("existing"),
    st.text(min_size=1, max_size=300),
    st.sampled_from(["%00", "..", "a/b", " ", "id ", "\u00ff"]),
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255), min_size=0, max_size=300
)
queries = st.one_of(
    st.just(""),
    st.sampled_from(
        [
            "limit=-1",
            "limit=99999999999999999999",
            "offset=x",
            "marker=nope",
            "sort=time_stamp:up",
            "sort=backup_id",
            "all_projects=maybe",
            "time_after=1e400",
            "backup_name=%ED%A0%80",
            "search=%00",
            "hostname=" + "h" * 300,
        ]
    ),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3).map(
        urllib.parse.urlencode
    ),
)


@pytest.fixture
def existing(client) -> dict[str, str]:
    """One record of every kind, so that ids that exist are fuzzed too."""
    headers = {"X-User-Id": "fuzzer", "X-Project-Id": "fuzz", "X-Roles": "member,reader"}

    def created(path: str, body: dict[str, Any]) -> str:
        answer = client.simulate_post(f"/v2/fuzz/{path}", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        return str(next(value for key, value in answer.json.items() if key.endswith("_id")))

    client_id = created("clients", {"client_id": "fuzz_host", "hostname": "host"})
    return {
        "backup_id": created("backups", make_backup()),
        "client_id": client_id,
        "job_id": created("jobs", make_job(client_id)),
        "action_id": created("actions", {"freezer_action": make_action()}),
        "session_id": created("sessions", {"schedule": {}}),
        "project_id": "fuzz",
    }


@seeded(600)
@given(
    route=st.one_of(
        st.sampled_from(WRITES),
        st.sampled_from(WRITES),
        st.sampled_from(WRITES),
        st.sampled_from(ALLOWED),
        st.tuples(st.sampled_from(TEMPLATES), st.sampled_from(METHODS)),
    ),
    data=st.data(),
    record_id=ids,
    query=queries,
    identity=st.one_of(
        st.just({}),
        st.fixed_dictionaries(
            {},
            optional={
                "X-User-Id": header_text,
                "X-Project-Id": header_text,
                "X-User-Name": header_text,
                "X-Roles": st.sampled_from(["reader", "member", "admin", "service", "", "a,,b"]),
            },
        ),
    ),
)
def test_no_request_answers_a_5xx(client, existing, route, data, record_id, query, identity):
    path, method = route
    body = data.draw(bodies(base_for(path, method)), label="body")
    for name in ("project_id", "backup_id", "client_id", "job_id", "action_id", "session_id"):
        value = existing[name] if record_id == "existing" else record_id
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    headers = {"X-User-Id": "fuzzer", "X-Project-Id": "fuzz", "X-Roles": "member,reader"}
    headers.update(identity)
    if body is not None:
        headers["Content-Type"] = "application/json"
    answer = client.simulate_request(method, path, query_string=query, body=body, headers=headers)
    assert answer.status_code < 500, (method, path, query, body, answer.text)
    if answer.status_code >= 400 and method != "HEAD":
        error = answer.json
        assert set(error) <= {"title", "description"} and error["title"], answer.text
