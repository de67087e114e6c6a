# SPDX-License-Identifier: Apache-2.0
"""Signing in to the dashboard with Keystone (auth_strategy = keystone).

The sign-in form asks Keystone for a project-scoped token through keystoneauth1; the token
is kept in an HttpOnly, SameSite=Strict cookie (Secure over TLS) that lives as long as the
token. ``DashboardSession``, a filter of the paste pipeline in front of keystonemiddleware's
auth_token, hands that token to auth_token as ``X-Auth-Token`` for every dashboard page, so
that the token is validated (and revocations are seen) exactly as the API's are, and sends
a browser without a valid one to the sign-in form. Forms carry a CSRF token that must equal
the one of its cookie (double submit).
"""

from __future__ import annotations

import datetime
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import falcon
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import identity as ks_identity
from keystoneauth1 import session as ks_session
from oslo_config import cfg

from freezer_api.api.middleware import is_public
from freezer_api.dashboard.pages import CSRF_COOKIE, Services, render

LOG = logging.getLogger(__name__)
TOKEN_COOKIE = "freezer_session"
PREFIX = "/dashboard"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def keystone_url(conf: cfg.ConfigOpts) -> str | None:
    """Where the sign-in form asks for tokens: [dashboard] keystone_url, else Keystone's
    public URL as [keystone_authtoken] names it."""
    section = conf.keystone_authtoken
    url: str | None = (
        conf.dashboard.keystone_url
        or section.www_authenticate_uri
        or getattr(section, "auth_url", None)
    )
    return url


def _secure(req: falcon.Request) -> bool:
    return req.scheme == "https"


def _cookie(resp: falcon.Response, req: falcon.Request, name: str, value: str, age: int) -> None:
    resp.set_cookie(
        name,
        value,
        max_age=age,
        path=PREFIX,
        secure=_secure(req),
        http_only=True,
        same_site="Strict",
    )


def _forget(resp: falcon.Response, req: falcon.Request) -> None:
    for name in (TOKEN_COOKIE, CSRF_COOKIE):
        resp.unset_cookie(name, path=PREFIX)
        _cookie(resp, req, name, "", 0)


def csrf_matches(req: falcon.Request, form: dict[str, Any]) -> bool:
    expected = req.cookies.get(CSRF_COOKIE, "")
    given = form.get("csrf", "")
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


def _form(req: falcon.Request) -> dict[str, Any]:
    if req.content_type is None or not req.content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        return {}
    media = req.get_media()
    return media if isinstance(media, dict) else {}


class SignInPage:
    """``GET /dashboard/login``: the form; ``POST``: ask Keystone for a token."""

    def __init__(self, services: Services, conf: cfg.ConfigOpts) -> None:
        self._services = services
        self._conf = conf

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._form(req, resp, message=_MESSAGES.get(req.get_param("said") or "", ""))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = _form(req)
        if not csrf_matches(req, form):
            resp.status = falcon.HTTP_400
            self._form(req, resp, message="The form expired; sign in again.")
            return
        fields = {key: str(form.get(key, "")).strip() for key in _FIELDS}
        if not all(fields[key] for key in ("username", "password", "project")):
            resp.status = falcon.HTTP_400
            self._form(req, resp, message="User, password and project are required.", **fields)
            return
        url = keystone_url(self._conf)
        if not url:
            resp.status = falcon.HTTP_503
            self._form(req, resp, message="No Keystone is configured for the dashboard.")
            return
        domain = fields["domain"] or "Default"
        auth = ks_identity.Password(
            auth_url=url,
            username=fields["username"],
            password=fields["password"],
            user_domain_name=domain,
            project_name=fields["project"],
            project_domain_name=domain,
        )
        try:
            access = auth.get_access(ks_session.Session())
        except ks_exceptions.Unauthorized:
            LOG.info("dashboard sign-in refused for %s", fields["username"])
            resp.status = falcon.HTTP_401
            self._form(req, resp, message="Keystone refused these credentials.", **fields)
            return
        except ks_exceptions.ClientException as error:
            LOG.warning("dashboard sign-in: Keystone at %s failed: %s", url, error)
            resp.status = falcon.HTTP_503
            self._form(req, resp, message="Keystone cannot be reached; try again.", **fields)
            return
        expires = access.expires
        now = datetime.datetime.now(datetime.UTC)
        age = max(1, int((expires - now).total_seconds())) if expires else 3600
        _cookie(resp, req, TOKEN_COOKIE, access.auth_token or "", age)
        _cookie(resp, req, CSRF_COOKIE, secrets.token_urlsafe(24), age)
        LOG.info("dashboard sign-in of %s in project %s", access.user_id, access.project_id)
        raise falcon.HTTPSeeOther(f"{req.root_path.rstrip('/')}{PREFIX}")

    def _form(
        self, req: falcon.Request, resp: falcon.Response, message: str, **fields: Any
    ) -> None:
        csrf = req.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        _cookie(resp, req, CSRF_COOKIE, csrf, 3600)
        values = {
            "message": message,
            "form_csrf": csrf,
            "fields": {key: fields.get(key, "") for key in _FIELDS if key != "password"},
            "enabled": self._services.keystone,
        }
        render(self._services, req, resp, "login.html", None, None, values)


_FIELDS = ("username", "password", "domain", "project")
_MESSAGES = {
    "expired": "Your session ended (the token expired or was revoked); sign in again.",
    "out": "You are signed out.",
}


class SignOutPage:
    """``POST /dashboard/logout``: revoke the token at Keystone and forget it."""

    def __init__(self, services: Services, conf: cfg.ConfigOpts) -> None:
        self._services = services
        self._conf = conf

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not csrf_matches(req, _form(req)):
            raise falcon.HTTPBadRequest(description="The sign-out form expired.")
        token = req.cookies.get(TOKEN_COOKIE)
        url = keystone_url(self._conf)
        if token and url:
            revoke(url, token)
        _forget(resp, req)
        raise falcon.HTTPSeeOther(f"{req.root_path.rstrip('/')}{PREFIX}/login?said=out")


def revoke(url: str, token: str) -> None:
    """Revoke ``token`` at Keystone (a user may revoke their own); a failure is logged."""
    base = url.rstrip("/")
    identity_v3 = base if base.endswith("/v3") else f"{base}/v3"
    try:
        ks_session.Session().request(
            f"{identity_v3}/auth/tokens",
            "DELETE",
            headers={"X-Auth-Token": token, "X-Subject-Token": token},
            raise_exc=False,
        )
    except ks_exceptions.ClientException as error:
        LOG.warning("dashboard sign-out: the token could not be revoked: %s", error)


class DashboardSession:
    """Before auth_token: the dashboard's session cookie becomes the request's token.

    The sign-in form and the assets go to the app without a token; a page asked without a
    session, or whose token auth_token refuses, is sent to the sign-in form.
    """

    def __init__(self, app: WSGIApp, public_app: WSGIApp) -> None:
        self._app = app
        self._public_app = public_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return self._app(environ, start_response)
        if is_public(path):
            return self._public_app(environ, start_response)
        cookies = SimpleCookie()
        try:
            cookies.load(environ.get("HTTP_COOKIE", ""))
        except Exception:  # noqa: BLE001 - http.cookies raises CookieError and others
            cookies = SimpleCookie()
        morsel = cookies.get(TOKEN_COOKIE)
        root = environ.get("SCRIPT_NAME", "").rstrip("/")
        if morsel is None or not morsel.value:
            return _see_other(start_response, f"{root}{PREFIX}/login")
        environ["HTTP_X_AUTH_TOKEN"] = morsel.value
        refused: list[bool] = []

        def starting(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if status.startswith("401"):
                refused.append(True)
                return lambda data: None
            return start_response(status, headers, *args)

        answer = self._app(environ, starting)
        if refused:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
            return _see_other(
                start_response,
                f"{root}{PREFIX}/login?said=expired",
                [
                    (
                        "Set-Cookie",
                        f"{TOKEN_COOKIE}=; Max-Age=0; Path={PREFIX}; HttpOnly; SameSite=Strict",
                    ),
                ],
            )
        return answer


def _see_other(
    start_response: Callable[..., Any],
    location: str,
    headers: Sequence[tuple[str, str]] = (),
) -> Iterable[bytes]:
    start_response(
        "303 See Other",
        [("Location", quote(location, safe="/:?=&")), ("Content-Length", "0"), *headers],
    )
    return [b""]
