# SPDX-License-Identifier: Apache-2.0
"""Who is calling: the identity a request carries through every layer."""

from __future__ import annotations

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
