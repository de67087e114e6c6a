# SPDX-License-Identifier: Apache-2.0
"""Falcon middleware: content negotiation and the caller's identity."""

from __future__ import annotations

from typing import Any

import falcon

from freezer_api.config import NoauthIdentity
from freezer_api.context import Identity
from freezer_api.errors import Unauthorized

#: Paths answered without an identity.
PUBLIC_PATHS = frozenset({"/"})


class RequireJSON:
    """Refuse clients that will not accept JSON (406) before any work is done."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not (req.client_accepts_json or req.client_accepts("application/json-home")):
            raise falcon.HTTPNotAcceptable(
                description="This API answers only application/json; the Accept header "
                f"({req.accept}) excludes it."
            )


def _roles(header: str | None) -> frozenset[str] | None:
    if header is None:
        return None
    return frozenset(role.strip().lower() for role in header.split(",") if role.strip())


class KeystoneIdentity:
    """Production: the identity keystonemiddleware's auth_token confirmed in the headers."""

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if req.path in PUBLIC_PATHS:
            return
        if req.get_header("X-Identity-Status") != "Confirmed":
            raise Unauthorized("The request you have made requires authentication.")
        user_id = req.get_header("X-User-Id")
        project_id = req.get_header("X-Project-Id") or req.get_header("X-Tenant-Id")
        if not user_id or not project_id:
            raise Unauthorized("A project-scoped token is required.")
        req.context.identity = Identity(
            user_id=user_id,
            user_name=req.get_header("X-User-Name") or "",
            project_id=project_id,
            roles=_roles(req.get_header("X-Roles")) or frozenset(),
            request_id=req.env.get("openstack.request_id", ""),
            auth_token=req.get_header("X-Auth-Token") or "",
        )


class NoauthIdentityMiddleware:
    """Development mode: take the identity from headers, with configured defaults.

    Under ``/v2/{project_id}/`` the URL's project is the default project.
    """

    def __init__(self, defaults: NoauthIdentity) -> None:
        self._defaults = defaults

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        defaults = self._defaults
        roles = _roles(req.get_header("X-Roles"))
        req.context.identity = Identity(
            user_id=req.get_header("X-User-Id") or defaults.user_id,
            user_name=req.get_header("X-User-Name") or defaults.user_name,
            project_id=req.get_header("X-Project-Id")
            or req.get_header("X-Tenant-Id")
            or params.get("project_id")
            or defaults.project_id,
            roles=frozenset(defaults.roles) if roles is None else roles,
            request_id=req.env.get("openstack.request_id", ""),
            auth_token=req.get_header("X-Auth-Token") or "",
        )


def identity_of(req: falcon.Request) -> Identity:
    identity: Any = req.context.identity
    assert isinstance(identity, Identity)
    return identity
