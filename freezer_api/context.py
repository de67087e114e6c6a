# SPDX-License-Identifier: Apache-2.0
"""Who is calling: the identity a request carries through every layer."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Identity:
    """The caller, as Keystone (or the noauth middleware) describes them."""

    user_id: str
    project_id: str
    user_name: str = ""
    roles: frozenset[str] = frozenset()
    request_id: str = ""
    auth_token: str = dataclasses.field(default="", repr=False)
