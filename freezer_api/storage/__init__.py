# SPDX-License-Identifier: Apache-2.0
"""Storage backends, looked up by the scheme of the database URL."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

from sqlalchemy.engine import make_url

from freezer_api.storage.base import Backend, Storage

ENTRY_POINT_GROUP = "freezer_api.storage"


def backend_name(url: str) -> str:
    """Return the backend named by ``url`` (``sqlite:///x.db`` -> ``sqlite``)."""
    return make_url(url).get_backend_name()


def open_backend(url: str, options: Mapping[str, Any] | None = None) -> Backend:
    """The backend registered under the URL's scheme in ``freezer_api.storage``."""
    name = backend_name(url)
    found = metadata.entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        raise ValueError(f"no storage backend for database URLs of type {name!r}")
    factory = next(iter(found)).load()
    backend: Backend = factory(url, dict(options or {}))
    return backend


def open_storage(url: str, options: Mapping[str, Any] | None = None) -> Storage:
    """Connect to the storage at ``url`` (its schema must be current)."""
    return open_backend(url, options).open()
