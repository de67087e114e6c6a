# SPDX-License-Identifier: Apache-2.0
"""``make try-cli``: a local Keystone with freezer-api registered, to try the official CLI by hand.

Prints the ``OS_*`` lines to paste into another shell (``freezer backup-list``, ``openstack
...``), then serves until Ctrl-C. The Keystone is the tests' (``.venv-keystone``, SQLite),
with their users: ``alpha_member`` (member of project alpha), ``alpha_reader``,
``beta_member``, ``admin``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from tests.keystone.conftest import USERS, freezer_site, keystone_site

#: a working day; the tests' tokens live 20 s
TOKEN_LIFETIME = 8 * 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="alpha_member", choices=sorted(USERS))
    parser.add_argument("--port", type=int, default=9090, help="freezer-api's port (9090)")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="freezer-try-cli-") as name:
        folder = Path(name)
        (folder / "keystone").mkdir()
        (folder / "freezer").mkdir()
        print("starting Keystone and freezer-api (about 15 s)...", file=sys.stderr, flush=True)
        with (
            keystone_site(folder / "keystone", TOKEN_LIFETIME) as keystone,
            freezer_site(keystone, folder / "freezer", args.port) as freezer,
        ):
            who = USERS[args.user]
            print(f"# freezer-api at {freezer}, Keystone at {keystone.url}; paste into a shell:")
            for key, value in (
                ("OS_AUTH_URL", f"{keystone.url}/v3"),
                ("OS_USERNAME", who.name),
                ("OS_PASSWORD", who.password),
                ("OS_PROJECT_NAME", who.project),
                ("OS_USER_DOMAIN_NAME", "Default"),
                ("OS_PROJECT_DOMAIN_NAME", "Default"),
                ("OS_IDENTITY_API_VERSION", "3"),
            ):
                print(f"export {key}={value}")
            print("# then: .venv/bin/freezer backup-list   (Ctrl-C here stops both)", flush=True)
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
