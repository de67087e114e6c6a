# SPDX-License-Identifier: Apache-2.0
"""Free-text searches answered by OpenSearch (``[search] backend = opensearch``), through
the real app and the real node, on every engine; and from SQL when OpenSearch fails."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from opensearchpy import OpenSearch

from freezer_api import metrics
from freezer_api.app import create_app
from freezer_api.config import build_conf
from freezer_api.search import SearchIndex, sync
from tests.conftest import V2, make_backup, make_settings
from tests.processes import free_port


def app_of(settings, storage, tmp_path: Path, hosts: str, index: str) -> Any:
    conf_file = tmp_path / f"search-{uuid.uuid4().hex[:6]}.conf"
    conf_file.write_text(f"[search]\nbackend = opensearch\nhosts = {hosts}\nindex = {index}\n")
    conf = build_conf(["--config-file", str(conf_file)], config_files=False)
    served = make_settings(settings.database_url, conf=conf)
    return falcon.testing.TestClient(create_app(served, storage))


@pytest.fixture
def index_name(opensearch: str) -> Any:
    name = f"served-{uuid.uuid4().hex[:8]}"
    yield name
    OpenSearch(hosts=[opensearch]).indices.delete(index=f"{name}*", ignore_unavailable=True)


def ids(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [each["backup_id"] for each in answer.json["backups"]]


def test_free_text_is_searched_in_opensearch_within_the_project(
    settings, storage, opensearch, index_name, tmp_path
):
    client = app_of(settings, storage, tmp_path, opensearch, index_name)
    mine, theirs = V2(client, "p1"), V2(client, "p2")
    data = mine.post("backups", make_backup(path_to_backup="/var/lib/postgresql")).json
    other = mine.post("backups", make_backup(path_to_backup="/etc/nginx")).json
    hidden = theirs.post("backups", make_backup(path_to_backup="/var/lib/postgresql")).json
    sync(storage, SearchIndex(OpenSearch(hosts=[opensearch]), index_name))

    # a word of a path: OpenSearch's full text finds it, SQL's exact names would not
    found = ids(mine.request("GET", "backups", params={"search": "postgresql"}))
    assert found == [data["backup_id"]]
    assert ids(mine.request("GET", "backups", params={"q": "nginx"})) == [other["backup_id"]]
    # the CLI's --search: {"match": [{"_all": TEXT}]} in the GET body
    body = {"match": [{"_all": "var lib postgresql"}]}
    assert ids(mine.request("GET", "backups", body)) == [data["backup_id"]]
    # the other project's backup is never among them; its own search finds it
    assert hidden["backup_id"] not in found
    assert ids(theirs.request("GET", "backups", params={"q": "postgresql"})) == [
        hidden["backup_id"]
    ]
    # answers are read from the catalogue, as without the index
    plain = mine.request("GET", f"backups/{data['backup_id']}").json
    assert mine.request("GET", "backups", params={"q": "postgresql"}).json["backups"] == [plain]
    # what else a search asks is answered by SQL
    exact = mine.request("GET", "backups", params={"q": "postgresql", "hostname": "nowhere"})
    assert ids(exact) == []


def test_opensearch_down_answers_from_sql_logged_and_counted(settings, storage, tmp_path, caplog):
    from freezer_api.service import documents

    documents.FALLBACKS = documents.Fallbacks()
    client = app_of(settings, storage, tmp_path, f"http://127.0.0.1:{free_port()}", "absent")
    api = V2(client, "p1")
    made = api.post("backups", make_backup(backup_name="nightly")).json["backup_id"]
    before = metrics.server_metrics().search_fallbacks._value.get()

    def said() -> list[str]:
        return [each.getMessage() for each in caplog.records if "from SQL" in each.getMessage()]

    with caplog.at_level("WARNING"):
        # SQL's free text: one of the names, exactly
        assert ids(api.request("GET", "backups", params={"search": "nightly"})) == [made]
    assert metrics.server_metrics().search_fallbacks._value.get() == before + 1
    assert len(said()) == 1 and "OpenSearch failed" in said()[0]
    # another one within the minute is counted, not said again
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert ids(api.request("GET", "backups", params={"q": "nightly"})) == [made]
    assert metrics.server_metrics().search_fallbacks._value.get() == before + 2
    assert said() == []
