# SPDX-License-Identifier: Apache-2.0
"""Console commands: ``freezer-api`` and ``freezer-manage``."""

import logging

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
