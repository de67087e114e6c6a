# SPDX-License-Identifier: Apache-2.0
"""One generic document resource, and the small extras (versions, JSON home)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import falcon

from freezer_api.api import compat
from freezer_api.api.middleware import identity_of
from freezer_api.context import Identity
from freezer_api.service.documents import DocumentService
from freezer_api.storage.base import Document, Query, Record, Scope

VERBS = frozenset({"list", "create", "get", "patch", "replace", "delete"})
METHOD_OF_VERB = {
    "list": "GET",
    "create": "POST",
    "get": "GET",
    "patch": "PATCH",
    "replace": "PUT",
    "delete": "DELETE",
}


@dataclasses.dataclass(frozen=True)
class Limits:
    default_limit: int
    max_limit: int
    max_body_size: int


@dataclasses.dataclass(frozen=True)
class Kind:
    """What one API version says about one kind of document."""

    name: str  # "backup"
    plural: str  # "backups": the path segment and the list key
    verbs: frozenset[str]
    render: Callable[[Record], Document]
    scope_of: Callable[[Identity, str | None], Scope]
    #: body answered to PATCH and replace
    updated: Callable[[Record], Document]

    def __post_init__(self) -> None:
        unknown = self.verbs - VERBS
        if unknown:
            raise ValueError(f"{self.plural}: unknown verbs {sorted(unknown)}")

    @property
    def id_key(self) -> str:
        return f"{self.name}_id"

    def methods(self, *, item: bool) -> list[str]:
        collection = {"list", "create"}
        return sorted({METHOD_OF_VERB[verb] for verb in self.verbs if (verb in collection) != item})


def user_scope(identity: Identity, project_id: str | None) -> Scope:
    """v1: a user sees their own documents."""
    return Scope(user_id=identity.user_id)


def set_version(resp: falcon.Response, record: Record) -> None:
    resp.etag = f'"{record.version}"'


class DocumentResource:
    """Collection (``suffix="collection"``) and item responders for one kind."""

    def __init__(self, kind: Kind, service: DocumentService, limits: Limits) -> None:
        self._kind = kind
        self._service = service
        self._limits = limits

    # -- collection ------------------------------------------------------------
    def on_get_collection(
        self, req: falcon.Request, resp: falcon.Response, project_id: str | None = None
    ) -> None:
        self._allow("list", item=False)
        scope = self._kind.scope_of(identity_of(req), project_id)
        page = compat.page_of(req, self._limits.default_limit, self._limits.max_limit)
        records = self._service.search(scope, Query(page=page))
        resp.media = {self._kind.plural: [self._kind.render(record) for record in records]}

    def on_post_collection(
        self, req: falcon.Request, resp: falcon.Response, project_id: str | None = None
    ) -> None:
        self._allow("create", item=False)
        body = compat.read_object(req, self._limits.max_body_size)
        record = self._service.create(identity_of(req), body)
        resp.status = falcon.HTTP_201
        resp.location = f"{req.path.rstrip('/')}/{record.doc_id}"
        set_version(resp, record)
        resp.media = {self._kind.id_key: record.doc_id}

    # -- item ------------------------------------------------------------------
    def on_get(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        self._allow("get", item=True)
        record = self._service.get(self._kind.scope_of(identity_of(req), project_id), doc_id)
        set_version(resp, record)
        resp.media = self._kind.render(record)

    def on_patch(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        self._allow("patch", item=True)
        self._update(req, resp, doc_id, project_id, self._service.patch)

    def on_put(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        self._allow("replace", item=True)
        self._update(req, resp, doc_id, project_id, self._service.replace)

    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str | None = None
    ) -> None:
        self._allow("delete", item=True)
        self._service.delete(self._kind.scope_of(identity_of(req), project_id), doc_id)
        resp.status = falcon.HTTP_204

    # -- helpers ---------------------------------------------------------------
    def _update(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        doc_id: str,
        project_id: str | None,
        method: Callable[..., Record],
    ) -> None:
        identity = identity_of(req)
        if_version = compat.if_match_version(req)
        body = compat.read_object(req, self._limits.max_body_size)
        scope = self._kind.scope_of(identity, project_id)
        record = method(identity, scope, doc_id, body, if_version)
        set_version(resp, record)
        resp.media = self._kind.updated(record)

    def _allow(self, verb: str, *, item: bool) -> None:
        if verb not in self._kind.verbs:
            raise falcon.HTTPMethodNotAllowed(self._kind.methods(item=item))


@dataclasses.dataclass(frozen=True)
class ApiVersion:
    id: str
    status: str
    updated: str


class VersionsResource:
    """``GET /``: 300 Multiple Choices, built per request from the request's own URL."""

    def __init__(self, versions: tuple[ApiVersion, ...]) -> None:
        self._versions = versions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        base = req.prefix.rstrip("/")
        resp.status = falcon.HTTP_300
        resp.media = {
            "versions": [
                {
                    "id": version.id,
                    "status": version.status,
                    "updated": version.updated,
                    "links": [{"href": f"{base}/{version.id}/", "rel": "self"}],
                }
                for version in self._versions
            ]
        }


class HomeResource:
    """``GET /v1``: a JSON home document (draft-nottingham-json-home-03)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._body = json.dumps(document, indent=4).encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/json-home"
        resp.data = self._body
