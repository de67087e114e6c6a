# SPDX-License-Identifier: Apache-2.0
"""The route table: which kinds each API version serves, and where."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon

from freezer_api.api import views
from freezer_api.api.resources import (
    ApiVersion,
    CommandResource,
    DocumentResource,
    HomeResource,
    Kind,
    Limits,
    SessionJobResource,
    VersionsResource,
    project_scope,
    user_scope,
)
from freezer_api.policy import Policy
from freezer_api.service.documents import Call, DocumentService
from freezer_api.service.jobs import JobEvents
from freezer_api.service.sessions import SessionActions
from freezer_api.storage.base import Document

VERSIONS = (
    ApiVersion(id="v2", status="CURRENT", updated="2018-02-21T13:30:00"),
    ApiVersion(id="v1", status="SUPPORTED", updated="2015-03-23T13:45:00"),
)
ALL_VERBS = frozenset({"list", "create", "get", "patch", "replace", "delete"})


def central_client_rules(body: dict[str, Any]) -> list[str]:
    """Only administrators and services register central schedulers."""
    return ["clients:create_central"] if body.get("is_central") is True else []


def _kinds(version: str) -> tuple[Kind, ...]:
    scope_of = user_scope if version == "v1" else project_scope
    replace_method = "PUT" if version == "v1" else "POST"

    def kind(
        name: str, plural: str, verbs: frozenset[str], render: Any, updated: Any, **extra: Any
    ) -> Kind:
        return Kind(name, plural, verbs, render, scope_of, updated, replace_method, **extra)

    if version == "v1":
        backups = kind("backup", "backups", ALL_VERBS, views.v1_backup, views.v1_backup)
    else:
        verbs = ALL_VERBS - {"replace"}
        backups = kind("backup", "backups", verbs, views.backup, views.backup)
    return (
        backups,
        kind(
            "client",
            "clients",
            frozenset({"list", "create", "get", "delete"}),
            views.client,
            views.client,
            reads_shared=version == "v2",
            create_rules=central_client_rules,
        ),
        kind(
            "job",
            "jobs",
            ALL_VERBS,
            views.job,
            views.id_and_version("job_id"),
            all_projects_rule="jobs:get_all_projects",
        ),
        kind("action", "actions", ALL_VERBS, views.action, views.id_and_version("action_id")),
        kind("session", "sessions", ALL_VERBS, views.session, views.id_and_version("session_id")),
    )


V1_KINDS = _kinds("v1")
V2_KINDS = _kinds("v2")


def json_home(prefix: str, kinds: tuple[Kind, ...]) -> dict[str, Any]:
    """Describe every kind's collection and item routes."""
    resources: dict[str, Any] = {}
    formats: dict[str, Any] = {"application/json": {}}
    owner = {"project_id": "param/project_id"} if "{project_id}" in prefix else {}
    for kind in kinds:
        resources[f"rel/{kind.plural}"] = {
            "href-template": f"{prefix}/{kind.plural}/{{{kind.id_key}}}",
            "href-vars": {**owner, kind.id_key: f"param/{kind.id_key}"},
            "hints": {"allow": kind.methods(item=True), "formats": formats},
        }
        resources[f"rel/{kind.plural}_collection"] = {
            "href-template": f"{prefix}/{kind.plural}{{?limit,offset,marker}}",
            "href-vars": {
                **owner,
                **{name: f"param/{name}" for name in ("limit", "offset", "marker")},
            },
            "hints": {"allow": kind.methods(item=False), "formats": formats},
        }
    return {"resources": resources}


def v2_json_home() -> dict[str, Any]:
    document = json_home("/v2/{project_id}", V2_KINDS)
    # NOTE: Freezer's tempest suite compares this entry with 19.0.0's, byte for byte.
    document["resources"]["rel/backups"]["hints"]["allow"] = ["GET"]
    return document


def add_routes(
    app: falcon.App[Any, Any],
    services: Mapping[str, DocumentService],
    storage: Any,
    limits: Limits,
    policy: Policy,
) -> None:
    """Mount the versions document and every API version's kinds."""
    app.add_route("/", VersionsResource(VERSIONS))
    app.add_route("/v1", HomeResource(json_home("/v1", V1_KINDS)))
    app.add_route("/v2", HomeResource(v2_json_home()))
    events = JobEvents(storage)
    session_actions = SessionActions(storage)

    def send_event(call: Call, doc_id: str, body: Any, if_version: int | None) -> Document:
        return {"result": events.send(call, doc_id, body, if_version)}

    def act(call: Call, doc_id: str, body: Any, if_version: int | None) -> Document:
        return session_actions.act(call, doc_id, body, if_version)

    for version, prefix, kinds in (
        ("v1", "/v1", V1_KINDS),
        ("v2", "/v2/{project_id}", V2_KINDS),
    ):
        for kind in kinds:
            resource = DocumentResource(kind, services[f"{version}/{kind.plural}"], limits, policy)
            app.add_route(f"{prefix}/{kind.plural}", resource, suffix="collection")
            app.add_route(f"{prefix}/{kind.plural}/{{doc_id}}", resource)
            if kind.plural == "jobs":
                app.add_route(
                    f"{prefix}/jobs/{{doc_id}}/event",
                    CommandResource(kind, "jobs:event:create", send_event, limits, policy),
                )
            if kind.plural == "sessions":
                app.add_route(
                    f"{prefix}/sessions/{{doc_id}}/action",
                    CommandResource(kind, "sessions:action:create", act, limits, policy),
                )
                app.add_route(
                    f"{prefix}/sessions/{{doc_id}}/jobs/{{job_id}}",
                    SessionJobResource(kind, session_actions, policy),
                )
