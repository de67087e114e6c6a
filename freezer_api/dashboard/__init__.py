# SPDX-License-Identifier: Apache-2.0
"""The read-only dashboard at /dashboard/ ([dashboard] enabled)."""

from __future__ import annotations

from typing import Any

import falcon
from oslo_config import cfg

from freezer_api.api.resources import Kind, Parts
from freezer_api.dashboard import pages, signin


def add_routes(
    app: falcon.App[Any, Any],
    parts: Parts,
    kinds: tuple[Kind, ...],
    *,
    page_size: int,
    keystone: bool,
    conf: cfg.ConfigOpts,
) -> None:
    """Mount the pages, the sign-in and sign-out forms and the assets on ``app``."""
    services = pages.build(parts, kinds, page_size, keystone)
    for path, page in pages.PAGES:
        app.add_route(f"{signin.PREFIX}{path}", page(services))
    app.add_route(f"{signin.PREFIX}/login", signin.SignInPage(services, conf))
    app.add_route(f"{signin.PREFIX}/logout", signin.SignOutPage(services, conf))
    app.add_static_route(f"{signin.PREFIX}/static", str(pages.STATIC))
