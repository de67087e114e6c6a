# SPDX-License-Identifier: Apache-2.0
"""The OpenStack middleware around the app, configured from freezer-api.conf."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import falcon.testing
import pytest
from oslo_middleware import request_id

from freezer_api.api.pipeline import new_request_id
from freezer_api.app import create_app
from freezer_api.config import load_settings
from freezer_api.storage.sql.engine import create_db_engine
from freezer_api.storage.sql.store import SqlStorage
from tests.conftest import make_backup
from tests.processes import free_port


def open_storage(url: str, options: dict[str, int]) -> SqlStorage:
    return SqlStorage(create_db_engine(url, options))


def app_with(tmp_path: Path, storage, text: str) -> falcon.testing.TestClient:
    conf = tmp_path / "freezer-api.conf"
    conf.write_text(f"[database]\nconnection = sqlite:///{tmp_path / 'freezer.db'}\n{text}")
    return falcon.testing.TestClient(
        create_app(load_settings(["--config-file", str(conf)]), storage)
    )


def test_request_ids(client):
    result = client.simulate_get("/v2/p/backups")
    assert re.match(request_id.ID_FORMAT, result.headers["x-openstack-request-id"])
    error = client.simulate_get("/v2/p/backups/missing")
    assert re.match(request_id.ID_FORMAT, error.headers["x-openstack-request-id"])
    assert error.headers["x-openstack-request-id"] != result.headers["x-openstack-request-id"]
    # NOTE: an inbound id is the caller's global id, not this request's own.
    inbound = "req-12345678-1234-1234-1234-123456789012"
    again = client.simulate_get("/v2/p/backups", headers={"X-OpenStack-Request-ID": inbound})
    assert again.headers["x-openstack-request-id"] != inbound


def test_request_ids_are_random_version_4_uuids():
    made = [new_request_id() for _ in range(1000)]
    assert len(set(made)) == len(made)
    for made_id in made:
        assert re.fullmatch(request_id.ID_FORMAT, made_id)
        parsed = uuid.UUID(made_id.removeprefix("req-"))
        assert str(parsed) == made_id.removeprefix("req-")
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_healthcheck_needs_nothing_and_can_be_disabled_by_file(tmp_path, storage):
    flag = tmp_path / "disable"
    api = app_with(tmp_path, storage, f"[healthcheck]\ndisable_by_file_path = {flag}\n")
    assert api.simulate_get("/healthcheck").status_code == 200
    assert api.simulate_head("/healthcheck").status_code == 204
    flag.write_text("")
    assert api.simulate_get("/healthcheck").status_code == 503


def test_healthcheck_and_versions_need_no_token_under_keystone(tmp_path, storage):
    api = app_with(
        tmp_path,
        storage,
        "[DEFAULT]\nauth_strategy = keystone\n"
        "[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:1/identity\n"
        f"[healthcheck]\ndisable_by_file_path = {tmp_path / 'none'}\n",
    )
    assert api.simulate_get("/healthcheck").status_code == 200
    assert api.simulate_get("/").status_code == 300
    refused = api.simulate_get("/v2/p/backups")
    assert refused.status_code == 401
    assert "Keystone uri" in refused.headers["www-authenticate"]


def test_an_unreachable_keystone_answers_the_apis_json_503(tmp_path, storage):
    nothing = free_port()
    api = app_with(
        tmp_path,
        storage,
        "[DEFAULT]\nauth_strategy = keystone\n"
        f"[keystone_authtoken]\nwww_authenticate_uri = http://127.0.0.1:{nothing}/identity\n"
        "auth_type = password\n"
        f"auth_url = http://127.0.0.1:{nothing}/identity\n"
        "username = freezer\npassword = secret\nproject_name = service\n"
        "user_domain_id = default\nproject_domain_id = default\n",
    )
    for accept in ("application/json", "text/html", "*/*"):
        answer = api.simulate_get(
            "/v2/p/backups", headers={"X-Auth-Token": "a-token", "Accept": accept}
        )
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["retry-after"] == "5"
        assert answer.json == {
            "title": "Service Unavailable",
            "description": "The Keystone service is temporarily unavailable; try again later.",
        }


def test_the_healthcheck_asks_the_database(tmp_path, storage):
    api = app_with(tmp_path, storage, "[healthcheck]\ndetailed = false\n")
    healthy = api.simulate_get("/healthcheck")
    assert healthy.status_code == 200
    assert re.match(request_id.ID_FORMAT, healthy.headers["x-openstack-request-id"])
    # a database server nobody listens for
    unreachable = open_storage(f"postgresql://freezer@127.0.0.1:{free_port()}/freezer", {})
    broken = app_with(tmp_path, unreachable, "")
    answer = broken.simulate_get("/healthcheck", headers={"Accept": "application/json"})
    assert answer.status_code == 503, answer.text
    assert answer.json["reasons"][-1].startswith("database: The database is unavailable")
    unreachable.close()


def test_proxy_headers_are_honoured_when_enabled(tmp_path, storage):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "backup.example.org"}
    plain = app_with(tmp_path, storage, "")
    assert "http://falconframework.org/v2/" in plain.simulate_get("/", headers=headers).text
    proxied = app_with(
        tmp_path, storage, "[oslo_middleware]\nenable_proxy_headers_parsing = true\n"
    )
    assert "https://backup.example.org/v2/" in proxied.simulate_get("/", headers=headers).text


def test_cors(tmp_path, storage):
    api = app_with(tmp_path, storage, "[cors]\nallowed_origin = https://dashboard.example.org\n")
    result = api.simulate_get("/v2/p/backups", headers={"Origin": "https://dashboard.example.org"})
    assert result.headers["access-control-allow-origin"] == "https://dashboard.example.org"
    other = api.simulate_get("/v2/p/backups", headers={"Origin": "https://evil.example.org"})
    assert "access-control-allow-origin" not in other.headers


def test_body_size_limit_answers_json(tmp_path, storage):
    api = app_with(tmp_path, storage, "[oslo_middleware]\nmax_request_body_size = 2000\n")
    result = api.simulate_post("/v2/p/backups", json=make_backup(notes="x" * 3000))
    assert result.status_code == 413
    assert result.json["title"] == "Request Entity Too Large"
    assert "the limit is 2000 bytes" in result.json["description"]
    assert api.simulate_post("/v2/p/backups", json=make_backup()).status_code == 201


def test_an_operator_paste_file_can_change_the_pipeline(tmp_path, storage):
    shipped = Path(__file__).resolve().parents[2] / "freezer_api" / "api-paste.ini"
    custom = tmp_path / "paste.ini"
    # an operator drops the request id and request log middleware and adds nothing else
    pipeline = "pipeline = http_proxy_to_wsgi request_id request_log noauth_routes"
    assert pipeline in shipped.read_text()
    custom.write_text(
        shipped.read_text().replace(pipeline, "pipeline = http_proxy_to_wsgi noauth_routes")
    )
    api = app_with(tmp_path, storage, f"[paste_deploy]\nconfig_file = {custom}\n")
    result = api.simulate_get("/v2/p/backups")
    assert result.status_code == 200
    assert "x-openstack-request-id" not in result.headers


@pytest.mark.parametrize(
    "text", ['"backups:get_all": [unclosed\n', '"backups:get_all": "rule:no_such_rule"\n']
)
def test_a_broken_policy_file_stops_the_app(tmp_path, storage, text):
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    with pytest.raises(Exception):  # noqa: B017 - oslo.policy raises several kinds of error
        app_with(tmp_path, storage, f"[oslo_policy]\npolicy_file = {policy}\n")


def test_a_policy_file_overrides_the_defaults(tmp_path, storage):
    policy = tmp_path / "policy.yaml"
    policy.write_text('"backups:get_all": "role:auditor"\n')
    api = app_with(tmp_path, storage, f"[oslo_policy]\npolicy_file = {policy}\n")
    member = {"X-Roles": "member", "X-Project-Id": "p"}
    assert api.simulate_get("/v2/p/backups", headers=member).status_code == 403
    auditor = {"X-Roles": "auditor", "X-Project-Id": "p"}
    assert api.simulate_get("/v2/p/backups", headers=auditor).status_code == 200


def test_the_whole_body_is_read_first_up_to_its_length_and_limit():
    import io

    from freezer_api.api.pipeline import WholeBody

    def app(environ, start_response):
        environ["wsgi.input"].read(3)
        start_response("405 Method Not Allowed", [])
        return [b""]

    whole = WholeBody(app, limit=10)
    for length, left in [("10", b"NEXT"), ("11", b"0123456789NEXT"[3:]), ("", b"3456789NEXT")]:
        stream = io.BytesIO(b"0123456789NEXT")
        whole({"CONTENT_LENGTH": length, "wsgi.input": stream}, lambda *args: None)
        # the next request's bytes stay; a body beyond the limit, or of no length, is left
        assert stream.read() == left


@pytest.mark.parametrize("stalls", ["raises", "ends"])
def test_a_body_that_stops_coming_is_not_acted_on(stalls):
    import io

    from freezer_api.api.pipeline import WholeBody

    class Stalled:
        def read(self, size=-1):
            raise OSError("timed out reading the body")

    called = []

    def app(environ, start_response):
        called.append(environ)
        start_response("204 No Content", [])
        return [b""]

    stream = Stalled() if stalls == "raises" else io.BytesIO(b"{half")
    answered = []
    whole = WholeBody(app, limit=100)
    body = whole(
        {"CONTENT_LENGTH": "50", "wsgi.input": stream},
        lambda status, headers: answered.append(status),
    )
    assert called == [] and answered == ["400 Bad Request"]
    sent = 0 if stalls == "raises" else 5
    assert f"ended after {sent} of its 50 bytes" in b"".join(body).decode()
