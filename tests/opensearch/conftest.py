# SPDX-License-Identifier: Apache-2.0
"""A real OpenSearch 2.19 node for the tests, from Maven Central artifacts.

``make test`` builds it with Maven (``tests/opensearch/node``: the server jar, the netty4
transport, the common analysis plugins and log4j-core, and a launcher that subclasses
``org.opensearch.node.Node``); the session fixture starts it on loopback on ports the system
picks (read from its ports file), waits for a yellow cluster and stops it at the end. A node
that cannot start fails the tests that need it: nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

NODE = Path(__file__).parent / "node"
CLASSPATH = f"{NODE / 'target' / 'classes'}:{NODE / 'target' / 'lib' / '*'}"
MAIN = "org.openstack.freezer.testnode.TestNode"
#: a JVM heap that leaves room for the rest of the suite
HEAP = os.environ.get("FREEZER_TEST_OPENSEARCH_HEAP", "512m")


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found:
        pytest.fail("no java: install a JDK 17 (make test builds the node with Maven)")
    return found


@pytest.fixture(scope="session")
def opensearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running node (``http://127.0.0.1:PORT``)."""
    if not (NODE / "target" / "classes").is_dir():
        pytest.fail(f"the OpenSearch test node is not built: run 'make test' (mvn in {NODE})")
    home = tmp_path_factory.mktemp("opensearch")
    log = (home / "node.log").open("wb")
    process = subprocess.Popen(
        [java(), f"-Xms{HEAP}", f"-Xmx{HEAP}", "-cp", CLASSPATH, MAIN, str(home)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = _started(process, home)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _started(process: subprocess.Popen[bytes], home: Path, timeout: float = 180) -> str:
    ports = home / "logs" / "http.ports"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (home / "node.log").read_text(errors="replace")
            pytest.fail(f"the OpenSearch node exited with {process.returncode}:\n{text[-6000:]}")
        if ports.exists() and ports.read_text().strip():
            address = ports.read_text().split()[0]
            base = f"http://{address}"
            try:
                health = requests.get(
                    f"{base}/_cluster/health",
                    params={"wait_for_status": "yellow", "timeout": "5s"},
                    timeout=10,
                )
                if health.ok and health.json()["status"] in ("yellow", "green"):
                    return base
            except requests.RequestException:
                pass
        time.sleep(0.5)
    text = (home / "node.log").read_text(errors="replace")
    pytest.fail(f"the OpenSearch node was not yellow within {timeout} s:\n{text[-6000:]}")
