# SPDX-License-Identifier: Apache-2.0
"""OpenAPI 3.1 documents of each API version, built from the route tables (``routes``),
the JSON schemas the rules validate bodies with, and the answer schemas of the views.

Nothing here is written by hand per route: a kind added to a table is documented with
its verbs, its query parameters (the indexed keys of its searches), its bodies and its
answers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import falcon

from freezer_api.api import views
from freezer_api.api.resources import ApiVersion, Kind, Param, Rule, View
from freezer_api.service.documents import Rules
from freezer_api.service.schemas import INTEGER, OBJECT, STRING, Schema, listing, shape

OPENAPI = "3.1.0"
#: the answer of every error, whatever the route
ERROR: Schema = shape({"title": STRING}, {"description": STRING})
JSON = "application/json"
#: what each error status means, whatever the route (``api.errors`` maps the service's
#: errors to these statuses; the test of this module checks it names them all)
ERRORS = {
    "400": "The request is invalid: its body, its parameters or its identity headers.",
    "401": "No valid token (keystone mode).",
    "403": "The policy refuses the caller this operation on this project.",
    "404": "There is no such record in the caller's scope, or no such route.",
    "405": "The route does not take this method.",
    "406": "The Accept header excludes JSON.",
    "409": "The write conflicts with what is stored (an id taken, a chain it breaks).",
    "410": "The cursor is older than what the change feed keeps.",
    "412": "If-Match names a version other than the stored one, or the catalogue changed.",
    "413": "The body is larger than [api] max_body_size.",
    "422": "The body refers to a record that does not exist (a job's client, an action).",
    "503": "The database is unavailable or busy; try again after Retry-After seconds.",
}
ETAG = {"ETag": {"description": "The record's version, for If-Match.", "schema": STRING}}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "Write only if the record is at this version (an ETag answered).",
    "schema": STRING,
}


def document(version: ApiVersion) -> dict[str, Any]:
    """The OpenAPI document of ``version``: its routes, and the versions document."""
    paths: dict[str, dict[str, Any]] = {"/": {"get": _versions_operation()}}
    owner = [_path_param("project_id", "The project.")] if "{project_id}" in version.prefix else []
    paths[f"/{version.id}/openapi.json"] = {"get": _openapi_operation(version)}
    paths[f"/{version.id}"] = {"get": _home_operation(version)}
    for kind in version.kinds:
        _kind_paths(paths, version, kind, owner)
    for view in version.views:
        paths[f"{version.prefix}/{view.path}"] = {
            view.rule.method.lower(): _view_operation(view, owner)
        }
    return {
        "openapi": OPENAPI,
        "info": {
            "title": f"Freezer API {version.id}",
            "version": version.id,
            "description": (
                "The catalogue of the Freezer backup and restore service. Generated from the "
                "server's route table and the JSON schemas it validates requests with."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"keystone": []}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "keystone": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Auth-Token",
                    "description": (
                        "A Keystone token scoped to the project (auth_strategy = keystone). "
                        "With auth_strategy = noauth the identity is read from X-User-Id, "
                        "X-Project-Id and X-Roles instead."
                    ),
                }
            },
        },
    }


def _kind_paths(
    paths: dict[str, dict[str, Any]], version: ApiVersion, kind: Kind, owner: list[Any]
) -> None:
    collection = f"{version.prefix}/{kind.plural}"
    item = f"{collection}/{{{kind.id_key}}}"
    item_params = [*owner, _path_param(kind.id_key, f"The {kind.name}'s id.")]
    rules = kind.rules
    answer = _answer(kind.render)
    updated = _answer(kind.updated)
    operations: dict[str, tuple[str, dict[str, Any]]] = {}
    if "list" in kind.verbs:
        operations["list"] = (
            collection,
            {
                "summary": f"List and search {kind.plural}",
                "description": (
                    "Freezer clients send the search document as the JSON body of this GET; "
                    "the indexed keys may also be given as query parameters."
                ),
                "parameters": [*owner, *_list_params(kind)],
                "requestBody": _body(SEARCH, required=False),
                "responses": _responses("200", listing(kind.plural, answer)),
            },
        )
    if "create" in kind.verbs:
        operations["create"] = (
            collection,
            {
                "summary": f"Create a {kind.name}",
                "parameters": owner,
                "requestBody": _body(rules.schema),
                "responses": _responses(
                    "201",
                    shape({kind.id_key: STRING}),
                    headers={
                        **ETAG,
                        "Location": {"description": "The new record.", "schema": STRING},
                    },
                ),
            },
        )
    if "get" in kind.verbs:
        operations["get"] = (
            item,
            {
                "summary": f"Show a {kind.name}",
                "parameters": [*item_params, *_liveness(rules)],
                "responses": _responses("200", answer, headers=ETAG),
            },
        )
    if "patch" in kind.verbs:
        operations["patch"] = (
            item,
            {
                "summary": f"Update part of a {kind.name}",
                "parameters": [*item_params, IF_MATCH],
                "requestBody": _body(_patch_schema(rules)),
                "responses": _responses("200", updated, headers=ETAG),
            },
        )
    if "replace" in kind.verbs:
        replaced = "201" if kind.replace_method == "POST" else "200"
        operations["replace"] = (
            item,
            {
                "summary": f"Replace a {kind.name}"
                + (", or create it with this id" if rules.replace_creates else ""),
                "description": (
                    "Freezer v2 replaces with POST to the item, and answers 201."
                    if kind.replace_method == "POST"
                    else ""
                ),
                "parameters": [*item_params, IF_MATCH],
                "requestBody": _body(rules.schema),
                "responses": _responses(replaced, updated, headers=ETAG),
            },
        )
    if "delete" in kind.verbs:
        cascade = (
            [_query(Param("cascade", FLAG, "also delete the backups whose chains need it"))]
            if _overrides(rules, "deleting")
            else []
        )
        operations["delete"] = (
            item,
            {
                "summary": f"Delete a {kind.name}",
                "parameters": [*item_params, *cascade],
                "responses": _responses("204", None),
            },
        )
    for verb, (path, operation) in operations.items():
        operation["operationId"] = f"{version.id}_{kind.plural}_{verb}"
        operation["tags"] = [kind.plural]
        paths.setdefault(path, {})[kind.method(verb).lower()] = operation
    for sub in kind.sub_routes:
        for rule in sub.rules:
            path = collection + rule.path.replace("{id}", f"{{{kind.id_key}}}")
            params = [*item_params]
            if "{job_id}" in rule.path:
                params.append(_path_param("job_id", "The job's id."))
            paths.setdefault(path, {})[rule.method.lower()] = _rule_operation(
                version, kind, rule, params
            )


def _rule_operation(version: ApiVersion, kind: Kind, rule: Rule, params: list[Any]) -> Any:
    operation: dict[str, Any] = {
        "operationId": f"{version.id}_{rule.name.replace(':', '_')}",
        "summary": rule.name,
        "tags": [kind.plural],
        "parameters": params,
        "responses": _responses(str(rule.status), rule.answer),
    }
    if rule.body is not None:
        operation["requestBody"] = _body(rule.body)
    return operation


def _view_operation(view: View, owner: list[Any]) -> dict[str, Any]:
    resource: Any = view.resource
    query: tuple[Param, ...] = getattr(resource, "query", ())
    body: Schema | None = getattr(resource, "body", None)
    operation: dict[str, Any] = {
        "operationId": view.rule.name.replace(":", "_").replace("-", "_"),
        "summary": (resource.__doc__ or view.path).strip().split("\n\n")[0].replace("\n", " "),
        "tags": [view.path.split("/")[0]],
        "parameters": [*owner, *(_query(param) for param in query)],
        "responses": _responses("200", getattr(resource, "answer", OBJECT)),
    }
    if body is not None:
        operation["requestBody"] = _body(body)
    return operation


#: the search document of a list (CONTRACT.md: "match", "match_not", a time window)
PAIRS: Schema = {
    "anyOf": [
        {"type": "array", "items": {"type": "object"}},
        {"type": "object"},
        {"type": "null"},
    ]
}
SEARCH: Schema = {
    "type": "object",
    "properties": {
        "match": PAIRS,
        "match_not": PAIRS,
        "time_after": INTEGER,
        "time_before": INTEGER,
    },
}
FLAG: Schema = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]}
PAGE_PARAMS = (
    Param("limit", {"type": "integer", "minimum": 0}, "most records (0: the default)"),
    Param("offset", {"type": "integer", "minimum": 0}, "records to skip"),
    Param("marker", STRING, "go on after the record with this id"),
    Param("search", STRING, "free text, searched in the kind's main fields"),
)


def _list_params(kind: Kind) -> list[dict[str, Any]]:
    fields = kind.rules.search_fields
    params = [*PAGE_PARAMS]
    if fields.sortable:
        keys = "|".join(sorted(fields.sortable))
        params.append(
            Param(
                "sort",
                {
                    "type": "string",
                    "pattern": f"^({keys})(:(asc|desc))?(,({keys})(:(asc|desc))?)*$",
                },
                f"key[:asc|desc], comma-separated; keys: {', '.join(sorted(fields.sortable))}",
            )
        )
    if "time_stamp" in fields.columns:
        params += [
            Param("time_after", INTEGER, "backups at or after this time stamp"),
            Param("time_before", INTEGER, "backups at or before this time stamp"),
        ]
    if kind.all_projects_rule is not None:
        params.append(Param("all_projects", FLAG, f"rule {kind.all_projects_rule.name}"))
    if _overrides(kind.rules, "derived_filters"):
        params.append(Param("stale", FLAG, "only running jobs whose client went silent"))
    params += [Param(key, STRING, "an indexed key: only equal records") for key in fields.columns]
    return [*(_query(param) for param in params), *_liveness(kind.rules)]


def _liveness(rules: type[Rules]) -> list[dict[str, Any]]:
    if not _overrides(rules, "liveness"):
        return []
    return [_query(Param("liveness", FLAG, "add last contact and alive / stale state"))]


def _overrides(rules: type[Rules], hook: str) -> bool:
    return getattr(rules, hook) is not getattr(Rules, hook)


def _patch_schema(rules: type[Rules]) -> Schema:
    """The declared PATCH schema, else the create schema with nothing required."""
    if rules.patch_schema is not None:
        return rules.patch_schema
    partial = copy.deepcopy(rules.schema)
    for key in ("required", "if", "then", "anyOf"):
        partial.pop(key, None)
    return partial


def _answer(render: Callable[..., Any]) -> Schema:
    try:
        return views.ANSWERS[render]
    except KeyError:
        raise ValueError(f"no answer schema declared for {render.__qualname__}") from None


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
    }


def _query(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": "query",
        "required": False,
        "description": param.description,
        "schema": param.schema,
    }


def _body(schema: Schema, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _responses(
    status: str,
    schema: Schema | None,
    *,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": "Done."}
    if schema is not None:
        success["content"] = {JSON: {"schema": schema}}
    if headers:
        success["headers"] = headers
    return {status: success, **{code: _error(text) for code, text in ERRORS.items()}}


def _versions_operation() -> dict[str, Any]:
    link = shape({"href": STRING, "rel": STRING})
    entry = shape(
        {
            "id": STRING,
            "status": STRING,
            "updated": STRING,
            "links": {"type": "array", "items": link},
        }
    )
    return {
        "operationId": "versions",
        "summary": "The API versions this server speaks (no token needed)",
        "tags": ["versions"],
        "security": [],
        "responses": {
            "300": {
                "description": "Multiple choices.",
                "content": {JSON: {"schema": listing("versions", entry)}},
            }
        },
    }


def _home_operation(version: ApiVersion) -> dict[str, Any]:
    return {
        "operationId": f"{version.id}_home",
        "summary": "The JSON home document of the version (draft-nottingham-json-home-03)",
        "tags": ["versions"],
        "responses": {
            "200": {
                "description": "Every kind's routes.",
                "content": {"application/json-home": {"schema": shape({"resources": OBJECT})}},
            },
            "401": _error(ERRORS["401"]),
        },
    }


def _openapi_operation(version: ApiVersion) -> dict[str, Any]:
    return {
        "operationId": f"{version.id}_openapi",
        "summary": "This document (no token needed)",
        "tags": ["versions"],
        "security": [],
        "responses": {
            "200": {"description": "OpenAPI 3.1.", "content": {JSON: {"schema": OBJECT}}}
        },
    }


class OpenApiResource:
    """``GET /v2/openapi.json``, ``GET /v1/openapi.json``: built once, served as bytes."""

    def __init__(self, version: ApiVersion) -> None:
        self._body = json.dumps(document(version), indent=1).encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = JSON
        resp.data = self._body
