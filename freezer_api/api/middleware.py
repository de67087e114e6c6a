# SPDX-License-Identifier: Apache-2.0
"""Falcon middleware: content negotiation and the caller's identity."""

from __future__ import annotations

import functools
from typing import Any

import falcon

from freezer_api import logs
from freezer_api.config import NoauthIdentity
from freezer_api.context import IDENTITY_LENGTH, Identity, act_as
from freezer_api.errors import InvalidDocument, Unauthorized

#: Paths answered without an identity.
#: what anyone may read without a token: the versions document and the API's description
PUBLIC_PATHS = frozenset({"/", "", "/v1/openapi.json", "/v2/openapi.json", "/dashboard/login"})
#: and what is below these: the dashboard's assets
PUBLIC_PREFIXES = ("/dashboard/static/",)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class RequireJSON:
    """Refuse clients that will not accept JSON (406) before any work is done."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not (req.client_accepts_json or req.client_accepts("application/json-home")):
            raise falcon.HTTPNotAcceptable(
                description="This API answers only application/json; the Accept header "
                f"({req.accept}) excludes it."
            )


class RefuseNul:
    """Refuse U+0000 (NUL) in the URL's path and query string (400) before any work is done.

    NOTE: ids and filter values go into SQL, and PostgreSQL cannot hold NUL in text: it
    would fail the query (500). No stored id or value holds one (bodies refuse it too).
    """

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if "\x00" in req.path or "%00" in req.query_string:
            raise InvalidDocument("The URL must not contain U+0000 (NUL).")


@functools.lru_cache(maxsize=1024)
def _roles(header: str | None) -> frozenset[str] | None:
    """The roles of an ``X-Roles`` header; remembered, as every caller repeats theirs."""
    if header is None:
        return None
    return frozenset(role.strip().lower() for role in header.split(",") if role.strip())


class KeystoneIdentity:
    """Production: the identity keystonemiddleware's auth_token confirmed in the headers.

    NOTE: both identity middlewares read the headers from the WSGI environ by their CGI
    names; ``req.get_header`` builds each name again on every call.
    """

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        act_as(None)
        if is_public(req.path):
            return
        env = req.env
        if env.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":
            raise Unauthorized("The request you have made requires authentication.")
        user_id = env.get("HTTP_X_USER_ID")
        project_id = env.get("HTTP_X_PROJECT_ID") or env.get("HTTP_X_TENANT_ID")
        if not user_id or not project_id:
            raise Unauthorized("A project-scoped token is required.")
        identity = Identity(
            user_id=user_id,
            user_name=env.get("HTTP_X_USER_NAME") or "",
            project_id=project_id,
            roles=_roles(env.get("HTTP_X_ROLES")) or frozenset(),
            request_id=env.get("openstack.request_id", ""),
            auth_token=env.get("HTTP_X_AUTH_TOKEN") or "",
        )
        check_lengths(identity)
        logs.identify(env, identity.user_id, identity.user_name, identity.project_id)
        act_as(identity.user_id)
        req.context.identity = identity


class NoauthIdentityMiddleware:
    """Development mode: take the identity from headers, with configured defaults.

    Under ``/v2/{project_id}/`` the URL's project is the default project.
    """

    def __init__(self, defaults: NoauthIdentity) -> None:
        self._defaults = defaults

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        act_as(None)
        defaults = self._defaults
        env = req.env
        roles = _roles(env.get("HTTP_X_ROLES"))
        identity = Identity(
            user_id=env.get("HTTP_X_USER_ID") or defaults.user_id,
            user_name=env.get("HTTP_X_USER_NAME") or defaults.user_name,
            project_id=env.get("HTTP_X_PROJECT_ID")
            or env.get("HTTP_X_TENANT_ID")
            or params.get("project_id")
            or defaults.project_id,
            roles=frozenset(defaults.roles) if roles is None else roles,
            request_id=env.get("openstack.request_id", ""),
            auth_token=env.get("HTTP_X_AUTH_TOKEN") or "",
        )
        # NOTE: these go into SQL; Keystone's (the other middleware) never hold NUL.
        if "\x00" in f"{identity.user_id}{identity.user_name}{identity.project_id}":
            raise InvalidDocument("The identity headers must not contain U+0000 (NUL).")
        # NOTE: a header given twice reaches the app as one, its values joined by commas
        # (WSGI): "X-User-Id: a" twice with "b" would act as the user "a,b".
        for header, value in (
            ("X-User-Id", identity.user_id),
            ("X-Project-Id", identity.project_id),
        ):
            if "," in value:
                raise InvalidDocument(
                    f"The {header} header holds a comma: it was given more than once, or names "
                    "more than one identity."
                )
        check_lengths(identity)
        logs.identify(env, identity.user_id, identity.user_name, identity.project_id)
        act_as(identity.user_id)
        req.context.identity = identity


def check_lengths(identity: Identity) -> None:
    """Refuse (400) an identity longer than the catalogue keeps, before any work is done."""
    for what, value in (
        ("user id", identity.user_id),
        ("user name", identity.user_name),
        ("project id", identity.project_id),
    ):
        if len(value) > IDENTITY_LENGTH:
            raise InvalidDocument(
                f"The {what} is {len(value)} characters long; at most {IDENTITY_LENGTH} are kept."
            )


def identity_of(req: falcon.Request) -> Identity:
    identity: Any = req.context.identity
    assert isinstance(identity, Identity)
    return identity
