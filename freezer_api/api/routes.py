# SPDX-License-Identifier: Apache-2.0
"""The route table: which kinds each API version serves, and where."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_api.api.resources import (
    ApiVersion,
    DocumentResource,
    HomeResource,
    Kind,
    Limits,
    VersionsResource,
    user_scope,
)
from freezer_api.service.documents import DocumentService
from freezer_api.storage.base import Document, Record

VERSIONS = (ApiVersion(id="v1", status="CURRENT", updated="2015-03-23T13:45:00"),)


def render_v1_backup(record: Record) -> Document:
    """The seed's backup record: ``{backup_id, user_id, user_name, backup_metadata}``."""
    return {
        "backup_id": record.doc_id,
        "user_id": record.user_id,
        "user_name": record.doc.get("user_name", ""),
        "backup_metadata": record.doc["backup_metadata"],
    }


V1_KINDS = (
    Kind(
        name="backup",
        plural="backups",
        verbs=frozenset({"list", "create", "get", "patch", "replace", "delete"}),
        render=render_v1_backup,
        scope_of=user_scope,
        updated=render_v1_backup,
    ),
)


def json_home(prefix: str, kinds: tuple[Kind, ...]) -> dict[str, Any]:
    """Describe every kind's collection and item routes."""
    resources: dict[str, Any] = {}
    formats: dict[str, Any] = {"application/json": {}}
    for kind in kinds:
        resources[f"rel/{kind.plural}"] = {
            "href-template": f"{prefix}/{kind.plural}/{{{kind.id_key}}}",
            "href-vars": {kind.id_key: f"param/{kind.id_key}"},
            "hints": {"allow": kind.methods(item=True), "formats": formats},
        }
        resources[f"rel/{kind.plural}_collection"] = {
            "href-template": f"{prefix}/{kind.plural}{{?limit,offset,marker}}",
            "href-vars": {name: f"param/{name}" for name in ("limit", "offset", "marker")},
            "hints": {"allow": kind.methods(item=False), "formats": formats},
        }
    return {"resources": resources}


def add_routes(
    app: falcon.App[Any, Any], services: dict[str, DocumentService], limits: Limits
) -> None:
    """Mount the versions document and every API version's kinds."""
    app.add_route("/", VersionsResource(VERSIONS))
    app.add_route("/v1", HomeResource(json_home("/v1", V1_KINDS)))
    for kind in V1_KINDS:
        resource = DocumentResource(kind, services[f"v1/{kind.plural}"], limits)
        app.add_route(f"/v1/{kind.plural}", resource, suffix="collection")
        app.add_route(f"/v1/{kind.plural}/{{doc_id}}", resource)
