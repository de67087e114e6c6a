# SPDX-License-Identifier: Apache-2.0
"""What changed and what is protected (v2): the change feed."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_api.api.middleware import identity_of
from freezer_api.api.resources import Parts
from freezer_api.api.sets import page_limit, query_params
from freezer_api.errors import InvalidDocument
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

    def __init__(self, parts: Parts) -> None:
        self._events = parts.storage.events
        self._policy = parts.policy
        self._limits = parts.limits

    def on_get(self, req: falcon.Request, resp: falcon.Response, project_id: str) -> None:
        self._policy.authorize(self.rule, identity_of(req), project_id)
        params = query_params(req, ("since", "limit"))
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
