# SPDX-License-Identifier: Apache-2.0
"""``[healthcheck] backends = database``: /healthcheck answers 503 while the database does not."""

from __future__ import annotations

from typing import Any

from oslo_middleware.healthcheck import pluginbase

from freezer_api.api import pipeline
from freezer_api.errors import FreezerError


class DatabaseHealthcheck(pluginbase.HealthcheckBaseExtension):
    """An oslo.middleware healthcheck backend asking the catalogue's database ``SELECT 1``.

    A load balancer then takes out a node whose database is gone, as it does a node
    disabled by file.
    """

    def __init__(self, oslo_conf: Any, conf: dict[str, Any]) -> None:
        super().__init__(oslo_conf, conf)
        self._ping = pipeline.current().ping

    def healthcheck(self, server_port: int) -> pluginbase.HealthcheckResult:
        try:
            self._ping()
        except FreezerError as error:
            return pluginbase.HealthcheckResult(available=False, reason=f"database: {error}")
        except Exception as error:  # noqa: BLE001 - whatever the driver raised: not healthy
            return pluginbase.HealthcheckResult(
                available=False, reason=f"database: {type(error).__name__}"
            )
        return pluginbase.HealthcheckResult(available=True, reason="database: OK")
