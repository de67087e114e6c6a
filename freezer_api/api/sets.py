# SPDX-License-Identifier: Apache-2.0
"""Backup sets and restore points (v2): what a restore needs, derived from the catalogue."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_api.api import compat
from freezer_api.api.middleware import identity_of
from freezer_api.api.resources import Limits, Param, Parts, names
from freezer_api.errors import InvalidDocument, NotFound
from freezer_api.policy import Policy
from freezer_api.service import chains, retention
from freezer_api.service.schemas import (
    INTEGER,
    MAX_ID,
    OBJECT,
    STRING,
    STRINGS,
    Schema,
    listing,
    nullable,
    shape,
)
from freezer_api.storage.base import BackupSets

SET_NAMES = ("hostname", "backup_name", "container")
NAME_PARAM: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_ID}
#: the query parameters that select backup sets by name
SET_PARAMS = tuple(Param(name, NAME_PARAM, f"only the sets of this {name}") for name in SET_NAMES)
LIMIT = Param("limit", {"type": "integer", "minimum": 0}, "most entries (0: the default)")


def marker(what: str) -> Param:
    return Param("marker", STRING, f"go on after this {what} (a 'next' or set_id answered)")


#: a backup as a restore needs it: one link of a chain
LINK: Schema = shape(
    {
        "backup_id": STRING,
        "level": nullable(INTEGER),
        "time_stamp": INTEGER,
        "status": STRING,
    },
    {"storage": {}, "container": {}},
)
LAST_RESTORABLE = nullable(shape({"backup_id": STRING, "time_stamp": INTEGER}))
POINT: Schema = shape(
    {
        "backup_id": STRING,
        "time_stamp": INTEGER,
        "chain": {"type": "array", "items": LINK},
        "agent_options": OBJECT,
    }
)
SKIPPED: Schema = shape({"backup_id": STRING, "reason": nullable(STRING)})
DECIDED: Schema = shape({"backup_id": STRING, "reasons": STRINGS})
#: a preview or apply body (``service.retention.parse_policy`` checks it)
RETENTION_BODY: Schema = {
    "type": "object",
    "required": ["selector", "keep"],
    "properties": {
        "selector": {
            "type": "object",
            "minProperties": 1,
            "properties": {name: NAME_PARAM for name in SET_NAMES},
            "additionalProperties": False,
        },
        "keep": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                **{rule: {"type": "integer", "minimum": 1} for rule in retention.COUNT_RULES},
                "within": {"type": "string", "pattern": retention.DURATION_PATTERN},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


def query_params(req: falcon.Request, accepted: tuple[str, ...]) -> dict[str, str]:
    """The query's parameters; a 400 naming the accepted ones for any other, or a repeat."""
    params: dict[str, str] = {}
    for name, value in req.params.items():
        if name not in accepted:
            raise InvalidDocument(
                f"Unknown query parameter {name!r}; accepted: {', '.join(accepted) or 'none'}."
            )
        if not isinstance(value, str):
            raise InvalidDocument(f"The query parameter {name!r} is given more than once.")
        params[name] = value
    return params


def page_limit(params: dict[str, str], limits: Limits) -> int:
    raw = params.get("limit")
    if raw is None or raw == "0":
        return limits.default_limit
    if not raw.isdigit():
        raise InvalidDocument(f"The limit must be a whole number, not {raw!r}.")
    return min(int(raw), limits.max_limit)


class _SetResource:
    rule = ""
    #: the query parameters accepted, the body (None: none), the answer: also what the
    #: OpenAPI document says
    query: tuple[Param, ...] = ()
    body: Schema | None = None
    answer: Schema = OBJECT

    def __init__(self, parts: Parts) -> None:
        self._sets: BackupSets = parts.storage.backup_sets
        self._policy: Policy = parts.policy
        self._limits = parts.limits

    def _chains(self, req: falcon.Request, project_id: str) -> chains.Chains:
        """The project's chains, once policy lets the caller use this route on it."""
        self._authorize(req, project_id)
        return chains.Chains(self._sets, project_id)

    def _authorize(self, req: falcon.Request, project_id: str) -> None:
        self._policy.authorize(self.rule, identity_of(req), project_id)


class BackupSetsResource(_SetResource):
    """``GET /v2/{project_id}/backup-sets``: one entry per set, with its last restorable
    backup."""

    rule = "backup-sets:get_all"
    query = (*SET_PARAMS, LIMIT, marker("set_id"))
    answer = listing(
        "backup_sets",
        shape(
            {
                "set_id": STRING,
                "hostname": nullable(STRING),
                "backup_name": STRING,
                "container": nullable(STRING),
                "count": INTEGER,
                "first_time_stamp": nullable(INTEGER),
                "last_time_stamp": nullable(INTEGER),
                "max_level": nullable(INTEGER),
                "last_restorable": LAST_RESTORABLE,
            }
        ),
    )

    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        found = self._chains(req, project_id)
        params = query_params(req, names(self.query))
        chosen = {name: params[name] for name in SET_NAMES if name in params}
        page = self._sets.sets(
            project_id=project_id,
            names=chosen,
            after=params.get("marker"),
            limit=page_limit(params, self._limits),
        )
        entries = []
        for backup_set in page:
            restorable = found.last_restorable(backup_set)
            entries.append(
                {
                    "set_id": backup_set.key,
                    "hostname": backup_set.hostname,
                    "backup_name": backup_set.backup_name,
                    "container": backup_set.container,
                    "count": backup_set.count,
                    "first_time_stamp": backup_set.first_time_stamp,
                    "last_time_stamp": backup_set.last_time_stamp,
                    "max_level": backup_set.max_level,
                    "last_restorable": None
                    if restorable is None
                    else {"backup_id": restorable.backup_id, "time_stamp": restorable.time_stamp},
                }
            )
        resp.media = {"backup_sets": entries}


def _cursor(text: str) -> tuple[int, int]:
    time_stamp, _, order = text.partition(":")
    if not (time_stamp.lstrip("-").isdigit() and order.isdigit()):
        raise InvalidDocument(f"The marker {text!r} is not one this server gave (its 'next').")
    return int(time_stamp), int(order)


class RestorePointsResource(_SetResource):
    """``GET /v2/{project_id}/restore-points``: the newest restore point of a set at or
    before ``at``, or (without ``at``) every restore point of the set, newest first."""

    rule = "restore-points:get"
    query = (
        *SET_PARAMS,
        Param("at", STRING, "the newest point at or before this time (epoch or ISO 8601)"),
        LIMIT,
        marker("restore point"),
    )
    answer = {
        "oneOf": [
            shape(
                {"restore_point": POINT, "skipped": {"type": "array", "items": SKIPPED}},
            ),
            listing("restore_points", POINT, next=nullable(STRING)),
        ]
    }

    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        found = self._chains(req, project_id)
        params = query_params(req, names(self.query))
        limit = page_limit(params, self._limits)
        after = _cursor(params["marker"]) if "marker" in params else None
        at = chains.parse_time(params["at"]) if "at" in params else None
        if at is not None and ("marker" in params or "limit" in params):
            raise InvalidDocument("A restore point at a time is one answer: no limit, marker.")
        name = chains.set_name(self._sets, project_id, params)
        if at is not None:
            point, skipped = found.restore_point(name, at)
            if point is None:
                raise NotFound(
                    f"No restorable backup of {name.backup_name!r} on {name.hostname!r} at or "
                    f"before {chains.iso(at)}."
                    + (f" Passed over: {skipped[0].problem}." if skipped else "")
                )
            resp.media = {
                "restore_point": chains.point_view(name, point),
                "skipped": [chains.skipped_view(chain) for chain in skipped],
            }
            return
        points, last = found.restore_points(name, after, limit)
        answer: dict[str, Any] = {
            "restore_points": [chains.point_view(name, point) for point in points]
        }
        answer["next"] = None if last is None else f"{last[0]}:{last[1]}"
        resp.media = answer


class DependentsResource(_SetResource):
    """``GET /v2/{project_id}/backups/{backup_id}/dependents``: the backups whose chains
    need this one (deleting it breaks them)."""

    rule = "backups:dependents:get"
    answer = listing("dependents", LINK)

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, doc_id: str, project_id: str
    ) -> None:
        found = self._chains(req, project_id)
        query_params(req, ())
        located = self._sets.backup(project_id=project_id, backup_id=doc_id)
        if located is None:
            raise NotFound(f"No backup {doc_id} with a time stamp in this project.")
        key, backup = located
        resp.media = {
            "dependents": [chains.link_view(each) for each in found.dependents(key, backup)]
        }


class RetentionPreviewResource(_SetResource):
    """``POST /v2/{project_id}/retention/preview``: what the rules keep and expire, and why."""

    rule = "retention:preview"
    body = RETENTION_BODY
    answer = shape(
        {
            "keep": {"type": "array", "items": DECIDED},
            "expire": {"type": "array", "items": DECIDED},
            "fingerprint": STRING,
        }
    )

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        self._authorize(req, project_id)
        query_params(req, ())
        body = compat.read_object(req, self._limits.max_body_size)
        if "fingerprint" in body:
            raise InvalidDocument("A preview takes no fingerprint; it gives one.")
        policy = retention.parse_policy(body)
        resp.media = retention.preview(self._sets, project_id, policy).as_json()


class RetentionApplyResource(_SetResource):
    """``POST /v2/{project_id}/retention/apply``: delete what a preview with the same rules
    listed to expire, in one transaction; 412 if the catalogue changed since."""

    rule = "retention:apply"
    body = {
        **RETENTION_BODY,
        "required": [*RETENTION_BODY["required"], "fingerprint"],
        "properties": {
            **RETENTION_BODY["properties"],
            "fingerprint": {"type": "string", "minLength": 1},
        },
    }
    answer = listing("deleted", STRING)

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts)
        self._storage = parts.storage

    def on_post(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        self._authorize(req, project_id)
        query_params(req, ())
        body = compat.read_object(req, self._limits.max_body_size)
        fingerprint = body.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise InvalidDocument("An apply names the fingerprint of the preview it applies.")
        policy = retention.parse_policy(body)
        resp.media = {"deleted": retention.apply(self._storage, project_id, policy, fingerprint)}
