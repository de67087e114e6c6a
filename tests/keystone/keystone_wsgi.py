# SPDX-License-Identifier: Apache-2.0
"""Keystone's public WSGI app, for gunicorn in the test suite.

Keystone reads ``sys.argv`` as oslo.config arguments; gunicorn's own must not reach it.
"""

import sys

sys.argv = sys.argv[:1]

from keystone.server import wsgi  # noqa: E402

application = wsgi.initialize_public_application()
