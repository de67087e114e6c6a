# SPDX-License-Identifier: Apache-2.0
"""``make try-cli``: the printed OS_* lines work with the released CLI, and Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.keystone.conftest import KEYSTONE_VENV
from tests.processes import BIN, free_port

pytestmark = pytest.mark.slow


def test_the_printed_lines_let_the_freezer_cli_list_and_ctrl_c_stops_everything():
    if not (KEYSTONE_VENV / "bin" / "keystone-manage").exists():
        pytest.fail(f"no Keystone virtualenv at {KEYSTONE_VENV}: run 'make test'")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.keystone.local", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        exports: dict[str, str] = {}
        deadline = time.monotonic() + 180
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                key, value = line.removeprefix("export ").strip().split("=", 1)
                exports[key] = value
            if line.startswith("# then:") or time.monotonic() > deadline:
                break
        assert {"OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME"} <= set(exports)
        env = {"PATH": os.environ["PATH"], **exports}
        listed = subprocess.run(
            [str(BIN / "freezer"), "backup-list"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr
        assert "Backup UUID" in listed.stdout, listed.stdout
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in its terminal
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
