# SPDX-License-Identifier: Apache-2.0
"""Console commands: ``freezer-api`` and ``freezer-manage``."""

import ipaddress


def is_loopback(host: str) -> bool:
    """Tell whether a bind address is reachable only from this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
