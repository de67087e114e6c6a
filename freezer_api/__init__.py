# SPDX-License-Identifier: Apache-2.0
"""Freezer API: the backup metadata catalogue of OpenStack Freezer.

Distributed as ``freezer-catalogue``: the package index's ``freezer-api`` is the upstream
service this one replaces, and ``pip install freezer-api`` installs that one.
"""

from importlib import metadata

DISTRIBUTION = "freezer-catalogue"


def version() -> str:
    """This release's version, as installed."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"
