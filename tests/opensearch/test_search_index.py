# SPDX-License-Identifier: Apache-2.0
"""The OpenSearch index fed from the change feed (``freezer-manage search sync`` and
``search reindex``), through the real node, on every engine."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from freezer_api.cli import manage
from freezer_api.search import SearchIndex
from tests.conftest import V2, make_backup
from tests.processes import free_port


@pytest.fixture
def index_name(opensearch: str) -> Any:
    name = f"catalogue-{uuid.uuid4().hex[:8]}"
    yield name
    engine = OpenSearch(hosts=[opensearch])
    engine.indices.delete(index=f"{name}*", ignore_unavailable=True)


def config(tmp_path: Path, url: str, hosts: str, index: str, name: str = "manage") -> str:
    conf = tmp_path / f"{name}.conf"
    conf.write_text(f"[database]\nconnection = {url}\n[search]\nhosts = {hosts}\nindex = {index}\n")
    return str(conf)


def indexed(opensearch: str, index: str) -> dict[str, int]:
    """The index's documents: their ids and versions."""
    engine = OpenSearch(hosts=[opensearch])
    engine.indices.refresh(index=index)
    found = engine.search(index=index, body={"size": 1000, "version": True})
    return {hit["_id"]: hit["_version"] for hit in found["hits"]["hits"]}


def test_the_feed_reaches_the_index_and_an_outage_loses_nothing(
    settings, client, opensearch, index_name, tmp_path, capsys
):
    api = V2(client, "p1")
    made = [
        api.post("backups", make_backup(backup_name=f"n{n}")).json["backup_id"] for n in range(3)
    ]
    conf = config(tmp_path, settings.database_url, opensearch, index_name)
    assert manage.main(["--config-file", conf, "search", "sync"]) == 0, capsys.readouterr().err
    assert "indexed 3, deleted 0" in capsys.readouterr().out
    assert indexed(opensearch, index_name) == {f"backups/{backup_id}": 1 for backup_id in made}

    assert api.request("PATCH", f"backups/{made[0]}", {"status": "error"}).status_code == 200
    assert api.request("DELETE", f"backups/{made[1]}").status_code == 204
    assert manage.main(["--config-file", conf, "search", "sync"]) == 0
    assert indexed(opensearch, index_name) == {f"backups/{made[0]}": 2, f"backups/{made[2]}": 1}

    # replaying the whole feed changes nothing: every change is older than what is held
    SearchIndex(OpenSearch(hosts=[opensearch]), index_name).set_cursor(0)
    capsys.readouterr()
    assert manage.main(["--config-file", conf, "search", "sync"]) == 0
    assert "indexed 0, deleted 0, 4 already newer; cursor 5" in capsys.readouterr().out
    assert indexed(opensearch, index_name) == {f"backups/{made[0]}": 2, f"backups/{made[2]}": 1}

    # OpenSearch down: the sync fails, saying so, and the changes wait in the feed
    dead = f"http://127.0.0.1:{free_port()}"
    down = config(tmp_path, settings.database_url, dead, index_name, name="down")
    later = api.post("backups", make_backup(backup_name="later")).json["backup_id"]
    assert manage.main(["--config-file", down, "search", "sync"]) == 1
    assert "freezer-manage: error:" in capsys.readouterr().err
    assert manage.main(["--config-file", conf, "search", "sync"]) == 0
    assert indexed(opensearch, index_name)[f"backups/{later}"] == 1


def test_reindex_rebuilds_the_index_from_the_catalogue(
    settings, client, opensearch, index_name, tmp_path, capsys
):
    api = V2(client, "p1")
    made = [api.post("backups", make_backup()).json["backup_id"] for _ in range(4)]
    api.request("PATCH", f"backups/{made[3]}", {"status": "error"})
    conf = config(tmp_path, settings.database_url, opensearch, index_name)
    assert manage.main(["--config-file", conf, "search", "reindex"]) == 0, capsys.readouterr().err
    expected = {f"backups/{backup_id}": 1 for backup_id in made[:3]} | {f"backups/{made[3]}": 2}
    assert indexed(opensearch, index_name) == expected
    engine = OpenSearch(hosts=[opensearch])
    engine.indices.delete(index=index_name)
    assert manage.main(["--config-file", conf, "search", "reindex"]) == 0
    assert indexed(opensearch, index_name) == expected
    document = engine.get(index=index_name, id=f"backups/{made[0]}")["_source"]
    assert document["project_id"] == "p1" and document["hostname"] == "host1.example.org"
    assert made[0] in document["text"] and "etc" in document["text"]
