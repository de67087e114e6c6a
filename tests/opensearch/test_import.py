# SPDX-License-Identifier: Apache-2.0
"""``freezer-manage db import --from-elasticsearch``: documents shaped as an
Elasticsearch-backed freezer-api stored them, loaded into the real node through its REST
API, imported on every engine and read back through the API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
import requests

from freezer_api.app import create_app
from freezer_api.cli import manage
from freezer_api.service.elastic import Converter, Report

PROJECT = "es-project"


def documents() -> list[tuple[str, dict[str, Any]]]:
    """(_id, _source) of each kind as freezer-api's index holds them, odd ones included."""
    v1_id = "freezer_container_db1.example.org_etc_1600000000_0"
    return [
        (
            "b-1",
            {
                "backup_id": "b-1",
                "user_id": "u1",
                "user_name": "alice",
                "project_id": PROJECT,
                "backup_metadata": {
                    "backup_name": "etc",
                    "hostname": "db1.example.org",
                    "container": "freezer_container",
                    "time_stamp": 1600000100,
                    "curr_backup_level": 0,
                    "backup_size_compressed": "",
                },
            },
        ),
        (
            v1_id,
            {
                "backup_id": v1_id,
                "user_id": "u1",
                "user_name": "alice",
                "backup_metadata": {
                    "container": "freezer_container",
                    "host_name": "db1.example.org",
                    "backup_name": "etc",
                    "timestamp": "1600000000",
                    "level": 0,
                },
            },
        ),
        (
            "9e1b6a",  # a client's _id is not its client_id
            {
                "client": {"client_id": "sched-1", "hostname": "db1.example.org"},
                "user_id": "u1",
                "project_id": PROJECT,
                "uuid": "9e1b6a",
            },
        ),
        (
            "a-1",
            {
                "action_id": "a-1",
                "user_id": "u1",
                "project_id": PROJECT,
                "freezer_action": {"action": "backup", "mode": "fs", "backup_name": "etc"},
                "max_retries": "",
            },
        ),
        (
            "j-1",
            {
                "job_id": "j-1",
                "client_id": "sched-1",
                "user_id": "u1",
                "project_id": PROJECT,
                "description": "nightly",
                "session_tag": "",
                "job_schedule": {"status": "scheduled", "time_created": ""},
                "job_actions": [
                    {
                        "freezer_action": {"action": "backup", "mode": "fs", "backup_name": "etc"},
                        "max_retries": 3,
                    },
                    {"action_id": "a-1", "freezer_action": {"action": "backup", "mode": "fs"}},
                ],
            },
        ),
        (
            "s-1",
            {
                "session_id": "s-1",
                "user_id": "u1",
                "project_id": PROJECT,
                "description": "weekly",
                "session_tag": "",
                "time_started": "",
                "schedule": {},
                "jobs": {"j-1": {"status": "completed", "result": "success"}},
            },
        ),
        ("junk", {"something": "else"}),
    ]


@pytest.fixture
def index(opensearch: str) -> Any:
    name = f"freezer-{uuid.uuid4().hex[:8]}"
    lines = []
    for doc_id, source in documents():
        lines += [json.dumps({"index": {"_index": name, "_id": doc_id}}), json.dumps(source)]
    loaded = requests.post(
        f"{opensearch}/_bulk",
        params={"refresh": "true"},
        data="\n".join(lines) + "\n",
        headers={"Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert loaded.status_code == 200 and not loaded.json()["errors"], loaded.text
    yield name
    requests.delete(f"{opensearch}/{name}", timeout=60)


def config_file(tmp_path: Path, url: str) -> str:
    conf = tmp_path / "manage.conf"
    conf.write_text(f"[database]\nconnection = {url}\n")
    return str(conf)


def test_an_index_imports_on_every_engine_and_reads_back(
    settings, storage, opensearch, index, tmp_path, capsys
):
    conf = config_file(tmp_path, settings.database_url)
    argv = ["--config-file", conf, "db", "import", "--from-elasticsearch", opensearch]
    argv += ["--index", index, "--default-project-id", PROJECT]
    assert manage.main(argv) == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    assert "imported 2 actions, 2 backups, 1 clients, 1 jobs, 1 sessions" in said
    assert "refused 1: document junk: not a freezer-api document" in said

    client = falcon.testing.TestClient(create_app(settings, storage))
    headers = {"X-User-Id": "u1", "X-Project-Id": PROJECT}
    backups = client.simulate_get(f"/v2/{PROJECT}/backups", headers=headers).json["backups"]
    assert sorted(each["backup_id"] for each in backups) == sorted(
        [doc_id for doc_id, _ in documents()[:2]]
    )
    job = client.simulate_get(f"/v2/{PROJECT}/jobs/j-1", headers=headers).json
    assert job["client_id"] == "sched-1" and job["session_tag"] == 0
    assert [step["freezer_action"]["action"] for step in job["job_actions"]] == ["backup"] * 2
    clients = client.simulate_get(f"/v2/{PROJECT}/clients", headers=headers).json["clients"]
    assert [each["client"]["client_id"] for each in clients] == ["sched-1"]
    session = client.simulate_get(f"/v2/{PROJECT}/sessions/s-1", headers=headers).json
    assert session["jobs"]["j-1"]["result"] == "success" and session["session_tag"] == 0
    points = client.simulate_get(
        f"/v2/{PROJECT}/restore-points",
        params={"hostname": "db1.example.org", "backup_name": "etc"},
        headers=headers,
    ).json["restore_points"]
    assert [point["backup_id"] for point in points] == ["b-1", documents()[1][0]]

    # again: nothing new, nothing broken
    assert manage.main(argv) == 0
    assert "imported nothing (7 already stored)" in capsys.readouterr().out


def test_v1_documents_without_a_project_are_refused_unless_one_is_given(
    settings, storage, opensearch, index, tmp_path, capsys
):
    conf = config_file(tmp_path, settings.database_url)
    argv = ["--config-file", conf, "db", "import", "--from-elasticsearch", opensearch]
    assert manage.main([*argv, "--index", index, "--dry-run"]) == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    assert "would import" in said and "1 backups" in said
    assert "no project_id (a v1 document): give --default-project-id" in said
    assert "dry run: nothing was written" in said


def test_a_dump_file_imports_the_same(settings, storage, tmp_path, capsys):
    dump = tmp_path / "freezer.json"
    with dump.open("w") as output:
        for doc_id, source in documents():
            # elasticdump's lines of an Elasticsearch 1.x/2.x index: typed hits
            kind = {"b-1": "backups", "9e1b6a": "clients", "a-1": "actions"}.get(doc_id)
            hit = {"_index": "freezer", "_id": doc_id, "_source": source}
            if kind:
                hit["_type"] = kind
            output.write(json.dumps(hit) + "\n")
    conf = config_file(tmp_path, settings.database_url)
    argv = ["--config-file", conf, "db", "import", "--from-elasticsearch-dump", str(dump)]
    assert manage.main([*argv, "--default-project-id", PROJECT]) == 0, capsys.readouterr().err
    assert "imported 2 actions, 2 backups, 1 clients, 1 jobs, 1 sessions" in capsys.readouterr().out


def test_documents_are_classified_by_type_or_fields():
    report = Report()
    hits = [
        {"_type": "backups", "_id": "x", "_source": {"backup_id": "x", "backup_metadata": {}}},
        {"_id": "y", "_source": {"session_id": "y", "jobs": [{"j": {"status": "x"}}]}},
    ]
    records = list(Converter("p", report).records(hits))
    assert [(each["kind"], each["doc_id"]) for each in records] == [
        ("backups", "x"),
        ("sessions", "y"),
    ]
    assert records[1]["doc"]["jobs"] == {"j": {"status": "x"}}
    assert report.read == {"backups": 1, "sessions": 1}


def test_the_official_client_reads_an_imported_index(opensearch, index, tmp_path, capsys):
    """Imported into the database of a live freezer-api, the index reads back through
    python-freezerclient 6.5.0 as the CLI and the scheduler would read it."""
    from tests.compat.conftest import make_client
    from tests.processes import serving

    with serving(tmp_path) as served:
        base = served.base
        argv = ["--config-file", str(served.conf), "db", "import"]
        argv += ["--from-elasticsearch", opensearch]
        assert manage.main([*argv, "--index", index, "--default-project-id", PROJECT]) == 0
        capsys.readouterr()
        freezer = make_client(base, PROJECT)
        listed = freezer.backups.list(limit=10)
        assert sorted(each["backup_id"] for each in listed) == sorted(
            doc_id for doc_id, _ in documents()[:2]
        )
        assert freezer.jobs.get("j-1")["description"] == "nightly"
        assert [each["client"]["client_id"] for each in freezer.clients.list()] == ["sched-1"]
        assert freezer.actions.get("a-1")["freezer_action"]["mode"] == "fs"
        assert freezer.sessions.get("s-1")["jobs"]["j-1"]["status"] == "completed"
