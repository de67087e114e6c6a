# SPDX-License-Identifier: Apache-2.0
"""A kind is declared once: one table entry, one schema, one table in the database.

The test adds a kind the service does not have (``notes``) the way a release would:
rules and a schema in the service layer, a table for the storage (here created as its
migration would), and one entry in the v2 table of kinds. Routes, policy rules, the JSON
home and OpenAPI documents and the storage's repository all follow from those, with
nothing else edited.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from freezer_api.api import routes, views
from freezer_api.api.resources import ApiVersion
from freezer_api.app import create_app
from freezer_api.service.documents import Call, Rules, require_object
from freezer_api.service.schemas import NAME, STRING, Validator, shape
from freezer_api.service.search import SearchFields
from freezer_api.storage.base import Change, Record, Storage
from freezer_api.storage.sql.models import TABLES, DocumentColumns, Name, owner_indexes
from freezer_api.storage.sql.store import SqlStorage
from tests.conftest import V2, make_settings

NOTE = {
    "type": "object",
    "required": ["title"],
    "properties": {"title": NAME},
    "additionalProperties": False,
}


class NoteRules(Rules):
    plural = "notes"
    noun = "note"
    schema = NOTE
    search_fields = SearchFields(
        columns={"note_id": "doc_id", "title": "title"}, path_of=lambda key: (key,), text=("title",)
    )

    def __init__(self) -> None:
        self._validator = Validator(self.schema, "note")

    def new_record(self, call: Call, storage: Storage, body: Any, doc_id: str | None) -> Record:
        self._validator.check(require_object(body, "A note"))
        return call.new_record(doc_id or uuid.uuid4().hex, dict(body), {"title": body["title"]})

    def patched(self, call: Call, storage: Storage, record: Record, body: Any) -> Change:
        document = {**record.doc, **require_object(body, "A PATCH body")}
        self._validator.check(document)
        return Change(doc=document, fields={"title": document["title"]})

    replaced = patched


class NoteBase(DeclarativeBase):
    pass


class Note(DocumentColumns, NoteBase):
    """What the kind's migration would create."""

    __tablename__ = "notes"
    __table_args__ = (*owner_indexes("notes"), {"info": {"noun": "note"}})

    title: Mapped[str | None] = mapped_column(Name)


@views.answers(shape({"note_id": STRING, "title": STRING}))
def note_view(record: Record) -> dict[str, Any]:
    return {"note_id": record.doc_id, "project_id": record.project_id, **record.doc}


NOTES = routes.v2(
    NoteRules,
    routes.ALL_VERBS,
    note_view,
    views.id_and_version("note_id"),
    routes.checks(),
)
VERSIONS = (
    dataclasses.replace(routes.VERSIONS[0], kinds=(*routes.V2_KINDS, NOTES)),
    *routes.VERSIONS[1:],
)


@pytest.fixture
def notes_client(tmp_path, sqlite_template) -> Iterator[falcon.testing.TestClient]:
    url = f"sqlite:///{tmp_path / 'notes.db'}"
    (tmp_path / "notes.db").write_bytes(sqlite_template.read_bytes())
    engine = create_engine(url)
    NoteBase.metadata.create_all(engine)
    engine.dispose()
    storage = SqlStorage(
        create_engine(url),
        {**TABLES, "notes": Note.__table__},  # type: ignore[dict-item]
    )
    yield falcon.testing.TestClient(create_app(make_settings(url), storage, versions=VERSIONS))
    storage.close()


def test_a_new_kind_is_served_from_its_one_entry(notes_client):
    member = V2(notes_client, "p1")
    note_id = member.created("notes", {"title": "first"})
    assert member.get(f"notes/{note_id}").json == {
        "note_id": note_id,
        "project_id": "p1",
        "title": "first",
    }
    assert member.patch(f"notes/{note_id}", {"title": "second"}).json["version"] == 2
    assert [note["title"] for note in member.listed("notes", query="title=second")] == ["second"]
    refused = member.post("notes", {"title": "x", "colour": "red"})
    assert refused.status_code == 400 and "colour" in refused.json["description"]
    # the policy rules came from the entry: a reader reads and may not write
    reader = V2(notes_client, "p1", user_id="r1")
    reader.headers["X-Roles"] = "reader"
    assert reader.get(f"notes/{note_id}").status_code == 200
    assert reader.post("notes", {"title": "no"}).status_code == 403
    stranger = V2(notes_client, "p2")
    assert stranger.get(f"notes/{note_id}").status_code == 404
    assert (
        stranger.client.simulate_get(
            f"/v2/p1/notes/{note_id}", headers=stranger.headers
        ).status_code
        == 403
    )
    assert member.delete(f"notes/{note_id}").status_code == 204
    assert member.get(f"notes/{note_id}").status_code == 404


def test_a_new_kind_has_its_policy_rules_json_home_and_openapi_entries(notes_client):
    rules = {rule.name: rule for rule in routes.policy_rules(VERSIONS)}
    assert rules["notes:create"].check_str == "rule:admin_or_owner"
    assert rules["notes:get_all"].operations == [
        {"method": "GET", "path": "/v2/{project_id}/notes"}
    ]
    home = json.loads(notes_client.simulate_get("/v2").text)["resources"]
    assert home["rel/notes"]["href-template"] == "/v2/{project_id}/notes/{note_id}"
    assert home["rel/notes"]["hints"]["allow"] == ["DELETE", "GET", "PATCH", "POST"]
    described = notes_client.simulate_get("/v2/openapi.json").json["paths"]
    create = described["/v2/{project_id}/notes"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == NOTE
    item = described["/v2/{project_id}/notes/{note_id}"]
    assert sorted(item) == ["delete", "get", "patch", "post"]
    assert (
        "title"
        in item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    )
    # the kinds of the release are untouched
    assert "notes:create" not in {rule.name for rule in routes.policy_rules()}


def test_a_rule_declared_twice_with_different_checks_is_refused():
    clash = dataclasses.replace(NOTES, checks={**NOTES.checks, "create": "rule:context_is_admin"})
    versions = (
        dataclasses.replace(routes.VERSIONS[0], kinds=(*routes.V2_KINDS, NOTES)),
        ApiVersion("v3", "EXPERIMENTAL", "2026-12-01T00:00:00", "/v3/{project_id}", (clash,)),
    )
    with pytest.raises(ValueError, match="notes:create"):
        routes.policy_rules(versions)


def test_a_kind_without_a_table_stops_the_app_at_start(tmp_path, sqlite_template):
    url = f"sqlite:///{tmp_path / 'no-notes.db'}"
    (tmp_path / "no-notes.db").write_bytes(sqlite_template.read_bytes())
    storage = SqlStorage(create_engine(url))
    try:
        with pytest.raises(ValueError, match="the storage keeps no notes"):
            create_app(make_settings(url), storage, versions=VERSIONS)
    finally:
        storage.close()
