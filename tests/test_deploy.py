# SPDX-License-Identifier: Apache-2.0
"""The deployment files of etc/, run as they are written: systemd units, HAProxy, logrotate.

Each file is read from the repository and only its paths and ports are replaced by this
test's; the commands, signals and checks are the file's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import make_v1_backup, user
from tests.processes import BIN, free_port, running, wait_for
from tests.test_server import write_config

pytestmark = pytest.mark.slow

ETC = Path(__file__).resolve().parents[1] / "etc"
UNIT_CONF = "/etc/freezer/freezer-api.conf"


def unit(name: str) -> dict[str, list[str]]:
    """The [Service] settings of a unit file, each name with its values."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in (ETC / "systemd" / name).read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def command(settings: dict[str, list[str]], conf: str, port: int) -> list[str]:
    """ExecStart, with this test's virtualenv, configuration and port."""
    argv = shlex.split(settings["ExecStart"][0])
    argv[0] = str(BIN / Path(argv[0]).name)
    assert Path(argv[0]).exists(), argv[0]
    return [
        arg.replace(UNIT_CONF, conf).replace("127.0.0.1:9090", f"127.0.0.1:{port}") for arg in argv
    ]


def environment(settings: dict[str, list[str]], conf: str) -> dict[str, str]:
    pairs = (value.split("=", 1) for value in settings.get("Environment", []))
    return {key: value.replace(UNIT_CONF, conf) for key, value in pairs}


def test_the_unit_serves_reloads_without_dropping_a_request_and_stops(tmp_path):
    settings = unit("freezer-api.service")
    assert settings["KillMode"] == ["mixed"] and settings["Restart"] == ["on-failure"]
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    port = free_port()
    conf = write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    argv = command(settings, conf, port)
    assert argv[1:] == ["--config-file", conf]
    with running(argv, f"{base}/", tmp_path / "log") as process:
        session = requests.Session()
        created = session.post(
            f"{base}/v1/backups", json=make_v1_backup(), headers=user("ann"), timeout=5
        )
        assert created.status_code == 201
        os.kill(process.pid, signal.SIGHUP)  # ExecReload
        statuses: list[int] = []
        # granian replaces one worker, then the next 3.5 s later
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # NOTE: a connection of its own each: a worker that stops closes its idle
            # keep-alive connections, and a request sent on one at that instant finds it
            # closed (the README says so); requests in flight are answered
            fresh = requests.get(
                f"{base}/v1/backups", headers={**user("ann"), "Connection": "close"}, timeout=10
            )
            statuses.append(fresh.status_code)
            if (tmp_path / "log").read_text().count("Started worker-") >= 4:
                break
        assert set(statuses) == {200}
        assert (tmp_path / "log").read_text().count("Started worker-") >= 4  # both replaced
        os.kill(process.pid, signal.SIGTERM)  # KillMode=mixed: the main process first
        assert process.wait(timeout=int(settings["TimeoutStopSec"][0])) == 0


def test_the_uwsgi_unit_serves_and_stops_on_sigterm(tmp_path):
    settings = unit("freezer-api-uwsgi.service")
    port = free_port()
    conf = write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    argv = command(settings, conf, port)
    assert "--die-on-term" in argv
    env = environment(settings, conf)
    assert env == {"FREEZER_API_CONFIG": conf}
    with running(argv, f"{base}/", tmp_path / "log", env=env) as process:
        answer = requests.get(f"{base}/v1/backups", headers=user("ann"), timeout=5)
        assert answer.status_code == 200
        # NOTE: --lazy-apps: each worker loads the app after the first answers; a worker
        # still loading it when SIGTERM comes misses it, and is killed after the mercy (60 s)
        deadline = time.monotonic() + 30
        while (tmp_path / "log").read_text().count("WSGI app 0 (mountpoint='') ready") < 2:
            assert time.monotonic() < deadline, (tmp_path / "log").read_text()
            time.sleep(0.1)
        started = time.monotonic()
        os.kill(process.pid, signal.SIGTERM)  # KillSignal
        process.wait(timeout=int(settings["TimeoutStopSec"][0]))
        assert time.monotonic() - started < 10
    log = (tmp_path / "log").read_text()
    # --disable-logging: the access line is the application's, once per request
    assert log.count('"GET /v1/backups HTTP/1.1" status: 200') == 1, log


@pytest.mark.parametrize("name", ["freezer-api.service", "freezer-api-uwsgi.service"])
def test_systemd_accepts_the_units(tmp_path, name):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (ETC / "systemd" / name).read_text().replace("/opt/freezer-api/bin", str(BIN))
    text = re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.M)
    copy = tmp_path / name
    copy.write_text(text)
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if name in line]
    assert result.returncode == 0 and not problems, result.stderr


def haproxy() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found is None:
        pytest.skip("haproxy is not installed (make services installs it)")
    return found


def haproxy_example(tmp_path: Path, servers: list[tuple[str, int]], front: int) -> Path:
    """The shipped HAProxy configuration, listening on ``front``, in front of ``servers``
    (name, port), its error files read where they are in the repository."""
    text = (ETC / "haproxy" / "freezer-api.cfg").read_text()
    text = text.replace("/etc/haproxy/errors/freezer-api/", f"{ETC / 'haproxy' / 'errors'}/")
    text = text.replace("bind 0.0.0.0:9090", f"bind 127.0.0.1:{front}")
    text = re.sub(r"^    server .*\n", "", text, flags=re.M)
    text += "".join(f"    server {name} 127.0.0.1:{port} check\n" for name, port in servers)
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    return path


def test_the_haproxy_example_is_valid_as_shipped(tmp_path):
    text = (ETC / "haproxy" / "freezer-api.cfg").read_text()
    shipped = {name.group(1) for name in re.finditer(r"errorfile \d+ \S+/(\d+\.http)", text)}
    assert shipped == {path.name for path in (ETC / "haproxy" / "errors").iterdir()}
    result = subprocess.run(
        [haproxy(), "-c", "-f", str(haproxy_example(tmp_path, [("api-1", 9090)], 9090))],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_haproxy_takes_a_node_out_by_its_health_check_and_loses_no_request(tmp_path):
    binary = haproxy()
    nodes = []
    for name in ("api-1", "api-2"):
        folder = tmp_path / name
        folder.mkdir()
        port = free_port()
        conf = write_config(folder, port)
        text = (
            Path(conf)
            .read_text()
            .replace(f"sqlite:///{folder / 'served.db'}", f"sqlite:///{tmp_path / 'shared.db'}")
        )
        Path(conf).write_text(
            text + f"[healthcheck]\ndisable_by_file_path = {folder / 'disabled'}\n"
        )
        nodes.append((name, folder, port, conf))
    front = free_port()
    config = haproxy_example(tmp_path, [(name, port) for name, _, port, _ in nodes], front)
    base = f"http://127.0.0.1:{front}"
    with (
        running(
            [str(BIN / "freezer-api"), "--config-file", nodes[0][3]],
            f"http://127.0.0.1:{nodes[0][2]}/",
            tmp_path / "api-1.log",
        ) as first,
        running(
            [str(BIN / "freezer-api"), "--config-file", nodes[1][3]],
            f"http://127.0.0.1:{nodes[1][2]}/",
            tmp_path / "api-2.log",
        ),
        running(
            [binary, "-db", "-f", str(config)],
            f"{base}/",
            tmp_path / "haproxy.log",
        ),
    ):
        headers = user("ann")
        created = requests.post(
            f"{base}/v1/backups", json=make_v1_backup(), headers=headers, timeout=5
        )
        assert created.status_code == 201
        # maintenance of api-1: its health check answers 503, HAProxy takes it out
        (nodes[0][1] / "disabled").write_text("maintenance\n")
        deadline = time.monotonic() + 20
        while "api-1 is DOWN" not in (tmp_path / "haproxy.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "haproxy.log").read_text()
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(timeout=30)
        statuses = [
            requests.get(f"{base}/v1/backups", headers=headers, timeout=5).status_code
            for _ in range(30)
        ]
        assert statuses == [200] * 30
        listed = requests.get(f"{base}/v1/backups", headers=headers, timeout=5).json()
        assert [item["backup_id"] for item in listed["backups"]] == [created.json()["backup_id"]]


def test_logrotate_rotates_the_log_and_the_server_writes_on_in_a_new_file(tmp_path):
    logrotate = shutil.which("logrotate") or shutil.which("logrotate", path="/usr/sbin")
    if logrotate is None:
        pytest.skip("logrotate is not installed (make services installs it)")
    port = free_port()
    log_file = tmp_path / "freezer-api.log"
    conf = write_config(tmp_path, port)
    Path(conf).write_text(
        Path(conf).read_text().replace("[DEFAULT]\n", f"[DEFAULT]\nlog_file = {log_file}\n")
    )
    base = f"http://127.0.0.1:{port}"
    with running(
        [str(BIN / "freezer-api"), "--config-file", conf], f"{base}/", tmp_path / "output"
    ) as process:
        wait_for(f"{base}/", process)
        requests.get(f"{base}/v1/backups/before-rotation", headers=user("ann"), timeout=5)
        text = (ETC / "logrotate.d" / "freezer-api").read_text()
        text = text.replace("/var/log/freezer/freezer-api.log", str(log_file))
        text = text.replace("create 0640 freezer freezer", "create 0640 root root")
        (tmp_path / "logrotate.conf").write_text(text)
        state = tmp_path / "logrotate.state"
        subprocess.run(
            [logrotate, "--force", "--state", str(state), str(tmp_path / "logrotate.conf")],
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + 10
        after = ""
        while "after-rotation" not in after and time.monotonic() < deadline:
            requests.get(f"{base}/v1/backups/after-rotation", headers=user("ann"), timeout=5)
            after = log_file.read_text() if log_file.exists() else ""
    rotated = (tmp_path / "freezer-api.log.1").read_text()
    assert "before-rotation" in rotated and "after-rotation" not in rotated
    assert "after-rotation" in after and "before-rotation" not in after


def raw_exchange(
    port: int, request: bytes, timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is; the status, headers and body of the answer (read to the
    end of the connection or of its Content-Length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


MALFORMED = {
    "a space in the path": b"GET /v2/p1/back ups HTTP/1.1\r\nHost: x\r\n\r\n",
    "a raw byte in the path": b"GET /v2/p1/backups/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "a Content-Length that is no number": (
        b"POST /v2/p1/backups HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"
    ),
    "two Content-Lengths": (
        b"POST /v2/p1/backups HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}"
    ),
    "no HTTP at all": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
    "a request line beyond the limit": b"GET /v2/p1/backups?" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
}


def test_behind_haproxy_malformed_http_and_slow_clients_get_json_and_reach_no_node(tmp_path):
    """The shipped HAProxy front keeps malformed HTTP from the nodes, and reads each request
    whole (http-buffer-request) within "timeout http-request" before a node sees it: stalled
    clients hold no API thread, and get a JSON 408 with a request id, as the API's errors."""
    binary = haproxy()
    port = free_port()
    conf = write_config(tmp_path, port)
    Path(conf).write_text(Path(conf).read_text().replace("workers = 2", "workers = 1"))
    front = free_port()
    config = haproxy_example(tmp_path, [("api-1", port)], front)
    config.write_text(
        config.read_text().replace("timeout http-request 10s", "timeout http-request 3s")
    )
    base = f"http://127.0.0.1:{front}"
    with (
        running(
            [str(BIN / "freezer-api"), "--config-file", conf],
            f"http://127.0.0.1:{port}/",
            tmp_path / "api.log",
        ),
        running([binary, "-db", "-f", str(config)], f"{base}/", tmp_path / "haproxy.log"),
    ):
        # NOTE: HAProxy 2.6 answers what it cannot parse with its built-in page (its error
        # files serve the errors of parsed requests only); no node sees such a request
        for what, request in MALFORMED.items():
            status, headers, body = raw_exchange(front, request)
            assert status in (400, 414), (what, status)
        assert "back ups" not in (tmp_path / "api.log").read_text()

        # more stalled clients than the node has threads (1 worker x 4 threads)
        stalled = []
        for number in range(12):
            connection = socket.create_connection(("127.0.0.1", front), timeout=30)
            connection.sendall(
                b"DELETE /v1/backups/slow%d HTTP/1.1\r\nHost: x\r\nX-User-Id: ann\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":' % number
            )
            stalled.append(connection)
        began = time.monotonic()
        answer = requests.get(f"{base}/v1/backups", headers=user("ann"), timeout=30)
        assert answer.status_code == 200
        assert time.monotonic() - began < 2
        for connection in stalled:
            data = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            connection.close()
            first_line, _, rest = data.partition(b"\r\n")
            assert first_line.startswith(b"HTTP/1.1 408"), data[:200]
            head, _, body = rest.partition(b"\r\n\r\n")
            assert b"content-type: application/json" in head.lower()
            assert b"x-openstack-request-id: req-" in head.lower()
            assert json.loads(body)["title"] == "Request Timeout"
        assert "/v1/backups/slow" not in (tmp_path / "api.log").read_text()
