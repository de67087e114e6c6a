# SPDX-License-Identifier: Apache-2.0
"""Domain errors to HTTP statuses, and the one JSON error body every error uses."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import falcon

from freezer_api import errors

LOG = logging.getLogger(__name__)

STATUS = {
    errors.InvalidDocument: falcon.HTTP_400,
    errors.Unauthorized: falcon.HTTP_401,
    errors.Forbidden: falcon.HTTP_403,
    errors.NotFound: falcon.HTTP_404,
    errors.Conflict: falcon.HTTP_409,
    errors.Gone: falcon.HTTP_410,
    errors.PreconditionFailed: falcon.HTTP_412,
    errors.Unprocessable: falcon.HTTP_422,
    errors.StorageUnavailable: falcon.HTTP_503,
}


class PayloadTooLarge(errors.InvalidDocument):
    """The request body is larger than ``[api] max_body_size``."""


def render_freezer_error(
    req: falcon.Request, resp: falcon.Response, ex: errors.FreezerError, params: Any
) -> None:
    """Answer a domain error with its status and a JSON body."""
    if isinstance(ex, PayloadTooLarge):
        raise falcon.HTTPContentTooLarge(description=str(ex))
    cls = next(cls for cls in type(ex).__mro__ if cls in STATUS)
    headers = None
    if isinstance(ex, errors.StorageUnavailable):
        # NOTE: oslo.log ends the line with the error being handled, ``ex``
        LOG.warning("%s %s answered 503", req.method, req.relative_uri)
        headers = {"Retry-After": "5"}
    raise falcon.HTTPError(STATUS[cls], description=str(ex), headers=headers)


def render_route_not_found(
    req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
) -> None:
    raise falcon.HTTPNotFound(description=f"There is no resource at {req.path}.")


def render_unexpected(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
) -> None:
    """Log an unexpected error once, and tell the client only that it happened."""
    if isinstance(ex, falcon.HTTPError):
        raise ex
    request_id = req.env.get("openstack.request_id", "")
    LOG.exception("unexpected error in %s %s (request %s)", req.method, req.path, request_id)
    raise falcon.HTTPInternalServerError(
        description=f"An unexpected error occurred; it was logged with request id {request_id}."
    )


DEFAULT_DESCRIPTIONS = {
    405: "The method {method} is not allowed on {path}.",
    406: "This API answers only application/json; the Accept header excludes it.",
    415: "Request bodies must be JSON.",
}


def title(code: int) -> str:
    """The one style of error titles: the status's reason phrase (``Not Found``)."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def serialize_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError) -> None:
    """Always answer errors as JSON ``{"title", "description"}``, whatever the Accept header."""
    body = {"title": title(ex.status_code)}
    default = DEFAULT_DESCRIPTIONS.get(ex.status_code, "")
    description = ex.description or default.format(method=req.method, path=req.path)
    if description:
        body["description"] = description
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps(body).encode()
    resp.vary = ("Accept",)


def install(app: falcon.App[Any, Any]) -> None:
    """Register the handlers, most general first (falcon picks the most specific)."""
    app.add_error_handler(Exception, render_unexpected)
    app.add_error_handler(errors.FreezerError, render_freezer_error)
    app.add_error_handler(falcon.HTTPRouteNotFound, render_route_not_found)
    app.set_error_serializer(serialize_error)
