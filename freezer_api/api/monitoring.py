# SPDX-License-Identifier: Apache-2.0
"""What changed and what is protected (v2): the change feed, and compliance with the
freshness objectives."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_api.api.middleware import identity_of
from freezer_api.api.resources import Param, Parts, names
from freezer_api.api.sets import (
    LAST_RESTORABLE,
    LIMIT,
    SET_NAMES,
    SET_PARAMS,
    marker,
    page_limit,
    query_params,
)
from freezer_api.errors import InvalidDocument
from freezer_api.service.objectives import ALL_STATES, Compliance
from freezer_api.service.schemas import INTEGER, STRING, Schema, listing, nullable, shape
from freezer_api.storage.base import Event


def event_view(event: Event) -> dict[str, Any]:
    return {
        "cursor": str(event.seq),
        "kind": event.kind,
        "id": event.doc_id,
        "operation": event.operation,
        "version": event.version,
        "time": event.time,
        "user_id": event.user_id,
    }


def parse_cursor(text: str) -> int:
    if not text.isdigit() or len(text) > 19:
        raise InvalidDocument(f"The cursor {text!r} is not one this server gave (a 'next').")
    return int(text)


class EventsResource:
    """``GET /v2/{project_id}/events?since=CURSOR&limit=N``: every create, update and delete
    of the project's records after the cursor, in the order they became visible."""

    rule = "events:get_all"
    query = (Param("since", {"type": "string", "pattern": "^[0-9]{1,19}$"}, "a 'next'"), LIMIT)
    body: Schema | None = None
    answer = listing(
        "events",
        shape(
            {
                "cursor": STRING,
                "kind": STRING,
                "id": STRING,
                "operation": {"enum": ["create", "update", "delete"]},
                "version": nullable(INTEGER),
                "time": INTEGER,
                "user_id": nullable(STRING),
            }
        ),
        next=STRING,
    )

    def __init__(self, parts: Parts) -> None:
        self._events = parts.storage.events
        self._policy = parts.policy
        self._limits = parts.limits

    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        self._policy.authorize(self.rule, identity_of(req), project_id)
        params = query_params(req, names(self.query))
        since = parse_cursor(params["since"]) if "since" in params else None
        events = self._events.page(
            project_id=project_id, since=since, limit=page_limit(params, self._limits)
        )
        if events:
            after = str(events[-1].seq)
        else:
            # NOTE: nothing new: go on from here; where nothing was ever read, from the
            # oldest kept (a cursor before the purged ones would be refused)
            after = str(since) if since is not None else str(self._events.purged())
        resp.media = {"events": [event_view(event) for event in events], "next": after}


class ComplianceResource:
    """``GET /v2/{project_id}/compliance``: every backup set with its last restorable backup,
    its age and its state against the freshness objectives (paged by set, ``marker``)."""

    rule = "compliance:get"
    query = (
        *SET_PARAMS,
        Param("state", {"enum": list(ALL_STATES)}, "only the sets in this state"),
        LIMIT,
        marker("set_id"),
    )
    body: Schema | None = None
    answer = listing(
        "backup_sets",
        shape(
            {
                "set_id": nullable(STRING),
                "objective_id": nullable(STRING),
                "state": {"enum": list(ALL_STATES)},
                "last_restorable": LAST_RESTORABLE,
                "age_seconds": nullable(INTEGER),
            }
        ),
        next=nullable(STRING),
    )

    def __init__(self, parts: Parts) -> None:
        self._compliance = Compliance(parts.storage, parts.wiring.clock)
        self._policy = parts.policy
        self._limits = parts.limits

    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        self._policy.authorize(self.rule, identity_of(req), project_id)
        params = query_params(req, names(self.query))
        chosen = {name: params[name] for name in SET_NAMES if name in params}
        state = params.get("state")
        if state is not None and state not in ALL_STATES:
            raise InvalidDocument(f"state is one of {', '.join(ALL_STATES)}, not {state!r}.")
        entries, after = self._compliance.page(
            project_id, chosen, params.get("marker"), page_limit(params, self._limits)
        )
        if state is not None:
            entries = [entry for entry in entries if entry["state"] == state]
        resp.media = {"backup_sets": entries, "next": after}
