# SPDX-License-Identifier: Apache-2.0
"""The WSGI pipeline around the falcon app: OpenStack middleware, loaded with PasteDeploy."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hmac
import io
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_middleware import healthcheck, request_id, sizelimit
from oslo_utils import importutils
from paste import deploy

from freezer_api import metrics
from freezer_api.api import errors as api_errors
from freezer_api.api.middleware import is_public

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DEFAULT_PASTE_FILE = Path(__file__).resolve().parent.parent / "api-paste.ini"


@dataclasses.dataclass(frozen=True)
class Parts:
    """What the paste factories build the pipeline from."""

    conf: cfg.ConfigOpts
    falcon_app: WSGIApp
    #: asks the database a trivial question (the ``database`` healthcheck backend)
    ping: Callable[[], None]
    #: the Prometheus text of ``/metrics``
    metrics: Callable[[], bytes] = lambda: b""


_parts: contextvars.ContextVar[Parts] = contextvars.ContextVar("freezer_api_pipeline")


def load(
    paste_file: str | None,
    name: str,
    conf: cfg.ConfigOpts,
    falcon_app: WSGIApp,
    ping: Callable[[], None],
    metrics: Callable[[], bytes] = lambda: b"",
) -> WSGIApp:
    """Load the pipeline ``name`` (the auth strategy) from the paste file."""
    path = Path(paste_file) if paste_file else DEFAULT_PASTE_FILE
    token = _parts.set(Parts(conf, falcon_app, ping, metrics))
    try:
        application: WSGIApp = deploy.loadapp(f"config:{path.resolve()}", name=name)
    finally:
        _parts.reset(token)
    return application


def current() -> Parts:
    """What the pipeline being loaded is built from (for the factories and plugins)."""
    return _parts.get()


def json_error(start_response: Callable[..., Any], status: str, description: str) -> list[bytes]:
    """Answer an error from middleware with the API's one JSON error body."""
    title = api_errors.title(int(status.split(" ", 1)[0]))
    body = json.dumps({"title": title, "description": description}).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


# -- paste factories ----------------------------------------------------------------------


def freezer_api_factory(global_conf: dict[str, Any], **local_conf: Any) -> WSGIApp:
    return _parts.get().falcon_app


def healthcheck_factory(global_conf: dict[str, Any], **local_conf: Any) -> WSGIApp:
    app: WSGIApp = healthcheck.Healthcheck(None, _parts.get().conf)
    return app


def metrics_factory(global_conf: dict[str, Any], **local_conf: Any) -> WSGIApp:
    parts = _parts.get()
    return MetricsApp(parts.conf, parts.metrics)


#: middleware -> (group, option): left out of the path while that option is off or empty
ONLY_WHEN = {
    "oslo_middleware.http_proxy_to_wsgi.HTTPProxyToWSGI": (
        "oslo_middleware",
        "enable_proxy_headers_parsing",
    ),
    "oslo_middleware.cors.CORS": ("cors", "allowed_origin"),
}


def oslo_filter_factory(
    global_conf: dict[str, Any], middleware: str, **local_conf: Any
) -> Callable[[WSGIApp], WSGIApp]:
    """Any oslo.middleware class, configured from freezer-api.conf.

    NOTE: proxy-header parsing and CORS do nothing until configured, so until then they
    are left out of the path (each would parse every request with webob for nothing).
    """
    cls = importutils.import_class(middleware)
    conf = _parts.get().conf
    if middleware in ONLY_WHEN:
        group, option = ONLY_WHEN[middleware]
        if not conf[group][option]:
            return lambda app: app
    return lambda app: cls(app, conf)


def sizelimit_factory(
    global_conf: dict[str, Any], **local_conf: Any
) -> Callable[[WSGIApp], WSGIApp]:
    conf = _parts.get().conf
    return lambda app: BodySizeLimit(app, conf)


def versions_factory(
    global_conf: dict[str, Any], **local_conf: Any
) -> Callable[[WSGIApp], WSGIApp]:
    falcon_app = _parts.get().falcon_app
    return lambda app: PublicVersions(app, falcon_app)


def dashboard_session_factory(
    global_conf: dict[str, Any], **local_conf: Any
) -> Callable[[WSGIApp], WSGIApp]:
    """The dashboard's session cookie as the token auth_token validates (keystone mode)."""
    from freezer_api.dashboard.signin import DashboardSession

    falcon_app = _parts.get().falcon_app
    return lambda app: DashboardSession(app, falcon_app)


def authtoken_factory(
    global_conf: dict[str, Any], **local_conf: Any
) -> Callable[[WSGIApp], WSGIApp]:
    """keystonemiddleware auth_token, reading [keystone_authtoken] of freezer-api.conf."""
    conf = _parts.get().conf
    options = {**local_conf, "oslo_config_config": conf}
    return lambda app: RejectionsAsErrors(auth_token.AuthProtocol(app, options))


def urlmap_factory(loader: Any, global_conf: dict[str, Any], **local_conf: str) -> WSGIApp:
    """Send each request to the app of the longest matching path prefix."""
    routes = sorted(
        (
            (prefix.rstrip("/"), loader.get_app(name, global_conf=global_conf))
            for prefix, name in local_conf.items()
        ),
        key=lambda route: len(route[0]),
        reverse=True,
    )

    def urlmap(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in routes:
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                answer: Iterable[bytes] = app(environ, start_response)
                return answer
        return json_error(start_response, "404 Not Found", f"There is no resource at {path}.")

    return urlmap


# -- middleware ---------------------------------------------------------------------------


class WholeBody:
    """Read a request's whole body before the application sees the request.

    Nothing is done for a request whose body never arrives: a DELETE whose client stops
    halfway through its announced body is not executed (it is answered 400, which the
    gone client will not read). And the connection stays usable: an answer given without
    reading the body (401, 403, 404, 405...) would leave the body in the socket, which
    uwsgi would not skip (it closes the connection, and a keep-alive client's next
    request on it finds it reset: python-freezerclient, the scheduler). Bodies above
    ``limit`` are left to the size limit's 413, and bodies of no announced length to the
    application.
    """

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH")
        if not length or not length.isdigit() or "wsgi.input" not in environ:
            return self._app(environ, start_response)
        size = int(length)
        if not 0 < size <= self._limit:
            return self._app(environ, start_response)
        body = _read_exactly(environ["wsgi.input"], size)
        if len(body) < size:
            return json_error(
                start_response,
                "400 Bad Request",
                f"The request body ended after {len(body)} of its {size} bytes; nothing was done.",
            )
        environ["wsgi.input"] = io.BytesIO(body)
        return self._app(environ, start_response)


def _read_exactly(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``: fewer when the client stopped sending."""
    parts: list[bytes] = []
    count = 0
    with contextlib.suppress(OSError):
        while count < size:
            part: bytes = stream.read(size - count)
            if not part:
                break
            parts.append(part)
            count += len(part)
    return b"".join(parts)


class PublicVersions:
    """Answer ``GET /`` (the versions document, as Freezer does) and the OpenAPI documents
    before authentication."""

    def __init__(self, app: WSGIApp, public_app: WSGIApp) -> None:
        self._app = app
        self._public_app = public_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        app = self._public_app if is_public(environ.get("PATH_INFO", "")) else self._app
        return app(environ, start_response)


class BodySizeLimit(sizelimit.RequestBodySizeLimiter):
    """oslo.middleware's body size limit, answering with the API's JSON error body.

    It reads oslo.middleware's option and uses its ``LimitingReader`` for bodies without a
    length, without building a webob request for every call.
    """

    def __init__(self, application: WSGIApp | None, conf: Any = None) -> None:
        super().__init__(application, conf)
        # NOTE: read once; oslo.middleware reads it per request, but the option is not
        # mutable, so it cannot change while the process runs.
        self._limit = int(self._conf_get("max_request_body_size"))

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        limit = self._limit
        length = environ.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > limit:
            return json_error(
                start_response,
                "413 Request Entity Too Large",
                f"The request body is {length} bytes; the limit is {limit} bytes.",
            )
        if not length and "wsgi.input" in environ:
            environ["wsgi.input"] = sizelimit.LimitingReader(environ["wsgi.input"], limit)
        assert self.application is not None
        answer: Iterable[bytes] = self.application(environ, start_response)
        return answer


class RequestId(request_id.RequestId):
    """oslo.middleware's request ids, without a webob request and response per call.

    Same environ keys, inbound global id check and response header (plus the class's
    ``compat_headers``) as ``oslo_middleware.request_id.RequestId``.
    """

    _global_id = re.compile(request_id.ID_FORMAT)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        inbound = environ.get("HTTP_X_OPENSTACK_REQUEST_ID", "")
        if self._global_id.match(inbound):
            environ[request_id.GLOBAL_REQ_ID] = inbound
        current = new_request_id()
        environ[request_id.ENV_REQUEST_ID] = current
        names = [request_id.HTTP_RESP_HEADER_REQUEST_ID, *self.compat_headers]

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers = headers + [(name, current) for name in names if name.lower() not in present]
            return start_response(status, headers, exc_info)

        assert self.application is not None
        answer: Iterable[bytes] = self.application(environ, start)
        return answer


def new_request_id() -> str:
    """``req-`` and a random (version 4) UUID, as oslo.middleware makes them.

    NOTE: formatted from the random bytes directly; ``uuid.uuid4()`` builds a UUID object
    first, which costs twice as much, once per request.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    text = raw.hex()
    return f"req-{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class RejectionsAsErrors:
    """Give auth_token's own answers the API's ``{"title", "description"}`` body.

    Its 401s carry a JSON body of their own; its 503 (Keystone cannot be reached) is a
    webob page in HTML or text, which becomes the API's JSON 503 with Retry-After.
    """

    REWRITTEN = ("401", "503")

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            if not status.startswith(self.REWRITTEN):
                return start_response(status, headers, exc_info)
            return lambda data: None

        body = self._app(environ, capture)
        status = captured.get("status", "")
        if not status.startswith(self.REWRITTEN):
            return body
        raw = b"".join(body)
        extra: list[tuple[str, str]] = []
        if status.startswith("503"):
            description = "The Keystone service is temporarily unavailable; try again later."
            extra = [("Retry-After", "5")]
        else:
            try:
                error = json.loads(raw)["error"]
                description = str(error.get("message") or error)
            except (ValueError, KeyError, TypeError):
                return self._replay(start_response, captured, raw)
        code = int(status.split(" ", 1)[0])
        answer = json.dumps({"title": api_errors.title(code), "description": description})
        headers = [
            (name, value)
            for name, value in captured["headers"]
            if name.lower() not in {"content-type", "content-length"}
        ]
        headers += [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(answer.encode()))),
            *extra,
        ]
        start_response(status, headers)
        return [answer.encode()]

    @staticmethod
    def _replay(
        start_response: Callable[..., Any], captured: dict[str, Any], raw: bytes
    ) -> list[bytes]:
        start_response(captured["status"], captured["headers"])
        return [raw]


class MetricsApp:
    """``GET /metrics``: the Prometheus text, to callers on loopback, with the token, or to
    anyone when ``[metrics] allow_remote`` says so."""

    def __init__(self, conf: cfg.ConfigOpts, exposition: Callable[[], bytes]) -> None:
        self._enabled = conf.metrics.enabled
        self._anyone = conf.metrics.allow_remote
        self._token = conf.metrics.token
        self._exposition = exposition

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if not self._enabled:
            return json_error(start_response, "404 Not Found", "Metrics are not served here.")
        if environ.get("PATH_INFO", "") not in ("/metrics", "/metrics/"):
            path = environ.get("PATH_INFO", "")
            return json_error(start_response, "404 Not Found", f"There is no resource at {path}.")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return json_error(
                start_response, "405 Method Not Allowed", "Metrics are read with GET."
            )
        if not self._allowed(environ):
            return json_error(
                start_response,
                "403 Forbidden",
                "Metrics are served to callers on a loopback address or with the bearer token "
                "of [metrics] token.",
            )
        body = self._exposition()
        start_response(
            "200 OK",
            [("Content-Type", metrics.CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))],
        )
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]

    def _allowed(self, environ: dict[str, Any]) -> bool:
        if self._anyone:
            return True
        given = environ.get("HTTP_AUTHORIZATION", "")
        if self._token and hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode()):
            return True
        proxied = "HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ
        return not proxied and metrics.is_loopback(environ.get("REMOTE_ADDR"))
