# SPDX-License-Identifier: Apache-2.0
"""The OpenAPI documents: served, valid, generated from the route table, and true of the
answers the app gives."""

from __future__ import annotations

import re

import falcon.inspect
import falcon.testing
import jsonschema
import pytest
from openapi_spec_validator import validate

from freezer_api.api import openapi, routes
from freezer_api.app import create_falcon_app
from freezer_api.config import build_conf
from freezer_api.policy import Policy
from tests.conftest import make_backup, make_v1_backup, user

VERSIONS = {version.id: version for version in routes.VERSIONS}


@pytest.fixture(params=sorted(VERSIONS))
def described(request, client):
    answer = client.simulate_get(f"/{request.param}/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    return request.param, answer.json


def test_each_version_serves_a_valid_openapi_3_1_document(described):
    version, document = described
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == version
    prefix = VERSIONS[version].prefix
    assert all(
        path in ("/", f"/{version}", f"/{version}/openapi.json") or path.startswith(prefix)
        for path in document["paths"]
    )


def _template(path: str, doc_ids: dict[str, str]) -> str:
    """A falcon route template as the document writes it (``{doc_id}`` is the kind's id)."""
    parts = path.split("/")
    kind = next((part for part in parts if part in doc_ids), None)
    return path.replace("{doc_id}", f"{{{doc_ids[kind]}}}") if kind else path


def test_every_route_and_method_the_app_serves_is_described(settings, storage):
    policy = Policy(build_conf([], config_files=False), routes.policy_rules())
    policy.load()
    app = create_falcon_app(settings, storage, policy)
    doc_ids = {kind.plural: kind.id_key for version in routes.VERSIONS for kind in version.kinds}
    served = {
        (_template(route.path, doc_ids), method.method)
        for route in falcon.inspect.inspect_routes(app)
        for method in route.methods
        if not method.internal
        and method.method != "OPTIONS"
        # NOTE: the dashboard's HTML pages are no part of the API
        and not route.path.startswith("/dashboard")
    }
    described = {
        (path, method.upper())
        for version in routes.VERSIONS
        for path, operations in openapi.document(version)["paths"].items()
        for method in operations
    }
    # NOTE: an item's responders take every method its class defines; the verbs a kind
    # does not serve answer 405 (v2 backups: no replace), and are rightly not described
    undescribed = {each for each in served - described if not _refused(app, *each)}
    assert undescribed == set()
    assert described - served == set()
    assert len(described) > 70


def _refused(app, path: str, method: str) -> bool:
    concrete = path
    for name in re.findall(r"{(\w+)}", path):
        concrete = concrete.replace(f"{{{name}}}", "x1")
    answer = falcon.testing.TestClient(app).simulate_request(
        method, concrete, headers=user("u", "x1"), json={}
    )
    return answer.status_code == 405


def test_the_versions_document_needs_no_identity(client):
    assert client.simulate_get("/v2/openapi.json").status_code == 200


def _check(document, path: str, method: str, answer) -> None:
    """``answer`` is one the document lists for the route, in the shape it gives."""
    response = document["paths"][path][method]["responses"][str(answer.status_code)]
    schema = response["content"]["application/json"]["schema"]
    jsonschema.validate(answer.json, {**schema, "components": document["components"]})


def test_answers_of_a_round_trip_match_the_v2_document(client):
    document = openapi.document(VERSIONS["v2"])
    headers = user("ann", "p1")
    created = client.simulate_post("/v2/p1/backups", json=make_backup(), headers=headers)
    _check(document, "/v2/{project_id}/backups", "post", created)
    backup_id = created.json["backup_id"]
    item = "/v2/{project_id}/backups/{backup_id}"
    _check(
        document, item, "get", client.simulate_get(f"/v2/p1/backups/{backup_id}", headers=headers)
    )
    _check(
        document,
        "/v2/{project_id}/backups",
        "get",
        client.simulate_get("/v2/p1/backups", headers=headers),
    )
    for view in ("backup-sets", "events", "compliance"):
        _check(
            document,
            f"/v2/{{project_id}}/{view}",
            "get",
            client.simulate_get(f"/v2/p1/{view}", headers=headers),
        )
    missing = client.simulate_get("/v2/p1/backups/nothing", headers=headers)
    assert missing.status_code == 404
    jsonschema.validate(missing.json, openapi.ERROR)


def test_answers_of_a_round_trip_match_the_v1_document(client):
    document = openapi.document(VERSIONS["v1"])
    headers = user("ann", "p1")
    created = client.simulate_post("/v1/backups", json=make_v1_backup(), headers=headers)
    _check(document, "/v1/backups", "post", created)
    _check(document, "/v1/backups", "get", client.simulate_get("/v1/backups", headers=headers))


def test_every_error_status_of_the_service_is_described():
    from freezer_api.api.errors import STATUS

    statuses = {status.split()[0] for status in STATUS.values()}
    assert statuses <= set(openapi.ERRORS)
