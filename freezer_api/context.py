# SPDX-License-Identifier: Apache-2.0
"""Who is calling: the identity a request carries through every layer."""

from __future__ import annotations

import contextvars
import dataclasses

#: Longest user id, user name or project id a caller may have: the catalogue's columns
#: (``storage.sql.models.ID_LENGTH``) hold no more, and no engine is asked to.
IDENTITY_LENGTH = 255


@dataclasses.dataclass(frozen=True)
class Identity:
    """The caller, as Keystone (or the noauth middleware) describes them."""

    user_id: str
    project_id: str
    user_name: str = ""
    roles: frozenset[str] = frozenset()
    request_id: str = ""
    auth_token: str = dataclasses.field(default="", repr=False)


#: the user whose request is running in this thread, for the change feed
_ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "freezer_api_actor", default=None
)


def act_as(user_id: str | None) -> None:
    """Name the user whose request this thread now serves (None between requests)."""
    _ACTOR.set(user_id)


def acting_user() -> str | None:
    """The user whose request this thread serves; None for the server's own work."""
    return _ACTOR.get()
