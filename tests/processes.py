# SPDX-License-Identifier: Apache-2.0
"""Start real server processes on loopback for tests, and always stop them."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    url: str,
    log: Path,
    env: dict[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
    timeout: float = 30,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until the block ends; ``url`` must answer before the block starts."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            list(argv),
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        try:
            wait_for(url, process, timeout)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"{error}; its output:\n{log.read_text()[-6000:]}") from None
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, stop_signal)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@dataclasses.dataclass(frozen=True)
class Served:
    """A live freezer-api: its base URL and its configuration file."""

    base: str
    conf: Path


@contextlib.contextmanager
def serving(directory: Path, workers: int = 1, extra: str = "") -> Iterator[Served]:
    """``freezer-api`` on a free loopback port and a SQLite database in ``directory``
    (``extra`` ends its configuration), until the block ends; its log is ``directory/log``."""
    port = free_port()
    conf = directory / "freezer-api.conf"
    conf.write_text(
        f"[DEFAULT]\nbind_port = {port}\nworkers = {workers}\n"
        f"[database]\nconnection = sqlite:///{directory / 'freezer.db'}\n{extra}"
    )
    base = f"http://127.0.0.1:{port}"
    with running(
        [str(BIN / "freezer-api"), "--config-file", str(conf)], f"{base}/", directory / "log"
    ):
        yield Served(base, conf)
