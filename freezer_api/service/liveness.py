# SPDX-License-Identifier: Apache-2.0
"""Scheduler liveness, from what the freezer 19.0.0 scheduler already sends.

Every poll of a scheduler lists its jobs with ``match: [{"client_id": ...}]``, and its job
updates name the client: each is a contact. A client is *alive* while its last contact is
more recent than ``[clients] alive_seconds``; a job whose schedule says ``running`` while its
client has been silent for ``[jobs] lease_seconds`` is *stale*. A client never seen since
the server learnt to look is neither alive nor dead: ``alive`` is null, its jobs are never
stale (nothing is guessed).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from freezer_api.storage.base import AnyOf, Filter, Scope, Storage

#: most (scope, client) pairs a process remembers writing; forgotten all at once beyond
MAX_REMEMBERED = 100_000


@dataclasses.dataclass
class Liveness:
    alive_seconds: int = 300
    lease_seconds: int = 900
    clock: Callable[[], float] = time.time
    #: (scope, client id) -> when this process last wrote its contact
    _written: dict[tuple[Any, str], float] = dataclasses.field(default_factory=dict)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def write_every(self) -> int:
        """Seconds between two writes of one client's contact: last_seen's precision."""
        return max(1, self.alive_seconds // 10)

    def contact(self, storage: Storage, scope: Scope, client_id: str) -> None:
        """Record that the client was in contact now.

        PERF: a scheduler polls every minute or so, each from any API process: a process
        writes a client's contact at most every ``write_every`` seconds, and the database
        skips the write when another process wrote one since.
        """
        now = self.clock()
        key = (scope, client_id)
        with self._lock:
            last = self._written.get(key)
            if last is not None and now - last < self.write_every:
                return
            if len(self._written) >= MAX_REMEMBERED:
                self._written.clear()
            self._written[key] = now
        at = int(now)
        storage.contacts.touch(
            scope=dataclasses.replace(scope, shared=True) if not scope.everywhere else scope,
            client_id=client_id,
            at=at,
            unless_after=at - self.write_every,
        )

    def client_state(self, last_seen: int | None) -> dict[str, Any]:
        """What ``?liveness=true`` adds to a client."""
        alive = None if last_seen is None else self.clock() - last_seen <= self.alive_seconds
        return {"last_seen": last_seen, "alive": alive}

    def is_stale(self, status: str | None, last_seen: int | None) -> bool:
        """A running job whose client has been silent beyond the lease."""
        return (
            status == "running"
            and last_seen is not None
            and self.clock() - last_seen > self.lease_seconds
        )

    def silent_since(self) -> int:
        """The time before which a client's last contact makes its running jobs stale."""
        return int(self.clock()) - self.lease_seconds

    def stale_filters(self, storage: Storage, scope: Scope) -> tuple[Filter | AnyOf, ...] | None:
        """The search filters of the scope's stale jobs: running, of a client silent beyond
        the lease; None when no client the scope sees is."""
        quiet = storage.contacts.quiet(scope=scope, before=self.silent_since())
        if not quiet:
            return None
        return (
            Filter("status", "running"),
            AnyOf(tuple(Filter("client_id", client_id) for client_id in quiet)),
        )
