# SPDX-License-Identifier: Apache-2.0
"""The real commands, over real sockets: freezer-api (granian) and the seed's uwsgi line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import make_v1_backup, user
from tests.processes import BIN, free_port, running

pytestmark = pytest.mark.slow


def write_config(tmp_path, port: int, **extra: str) -> str:
    path = tmp_path / "freezer-api.conf"
    lines = [
        "[DEFAULT]",
        f"bind_port = {port}",
        "workers = 2",
        "[database]",
        f"connection = sqlite:///{tmp_path / 'served.db'}",
    ]
    lines += [f"{key} = {value}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def exercise(base: str) -> None:
    """Create, read, list and delete one backup through a live server."""
    headers = user("carol")
    versions = requests.get(f"{base}/", timeout=5)
    assert versions.status_code == 300
    hrefs = {version["links"][0]["href"] for version in versions.json()["versions"]}
    assert hrefs == {f"{base}/v1/", f"{base}/v2/"}
    document = make_v1_backup()
    created = requests.post(f"{base}/v1/backups", json=document, headers=headers, timeout=5)
    assert created.status_code == 201, created.text
    backup_id = created.json()["backup_id"]
    got = requests.get(f"{base}/v1/backups/{backup_id}", headers=headers, timeout=5)
    assert got.json()["backup_metadata"] == document
    listed = requests.get(f"{base}/v1/backups", headers=headers, timeout=5).json()["backups"]
    assert [item["backup_id"] for item in listed] == [backup_id]
    bad = requests.post(f"{base}/v1/backups", data="{oops", headers=headers, timeout=5)
    assert bad.status_code == 400 and "Malformed JSON" in bad.json()["description"]
    assert (
        requests.delete(f"{base}/v1/backups/{backup_id}", headers=headers, timeout=5).status_code
        == 204
    )


def test_freezer_api_serves_and_creates_its_sqlite_database(tmp_path):
    port = free_port()
    conf = write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    with running([str(BIN / "freezer-api"), "--config-file", conf], f"{base}/", tmp_path / "log"):
        exercise(base)
    assert (tmp_path / "served.db").exists()
    log = (tmp_path / "log").read_text()
    assert "2 workers x 4 threads (granian)" in log
    assert log.count("Started worker-") == 2


def test_the_start_log_says_what_it_serves_once_bound_and_writes_nothing_in_home(tmp_path):
    port = free_port()
    conf = write_config(tmp_path, port)
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}
    base = f"http://127.0.0.1:{port}"
    argv = [str(BIN / "freezer-api"), "--config-file", conf]
    with running(argv, f"{base}/", tmp_path / "log", env=env):
        pass
    log = (tmp_path / "log").read_text()
    assert f"configuration files: {conf}; database: sqlite:///" in log
    listening, serving = log.index("Listening at"), log.index(f"serving on http://127.0.0.1:{port}")
    assert listening < serving
    # nothing but stevedore's cache of entry points (the healthcheck backends)
    assert [path.name for path in home.iterdir()] in ([], [".cache"])


def test_a_database_password_is_masked_in_the_log():
    from freezer_api.storage.sql.engine import masked_url

    masked = masked_url("postgresql://freezer:s3cret@db.example.org/freezer")
    assert "s3cret" not in masked and masked.startswith("postgresql://freezer:***@db.example.org")


@pytest.mark.parametrize(
    ("section", "file_name", "text", "said"),
    [
        ("oslo_policy", "policy.yaml", '"backups:get_all": "rule:nonexistent"\n', "policy.yaml"),
        ("oslo_policy", "policy.yaml", "backups:get_all: [unclosed\n", "policy.yaml"),
        ("paste_deploy", "paste.ini", "[composite:noauth]\nuse = egg:nothing\n", "nothing"),
        ("paste_deploy", "missing.ini", None, "missing.ini"),
    ],
)
def test_a_broken_policy_or_paste_file_stops_the_start_with_one_line(
    tmp_path, section, file_name, text, said
):
    path = tmp_path / file_name
    if text is not None:
        path.write_text(text)
    option = "policy_file" if section == "oslo_policy" else "config_file"
    conf = Path(write_config(tmp_path, free_port()))
    conf.write_text(conf.read_text() + f"[{section}]\n{option} = {path}\n")
    assert said in cannot_start(str(conf))


def cannot_start(conf: str, **env: str) -> str:
    """Run freezer-api, which must stop with status 1 and one line; return that line."""
    result = subprocess.run(
        [str(BIN / "freezer-api"), "--config-file", conf],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    output = result.stdout
    assert result.returncode == 1, output
    errors = [line for line in output.splitlines() if "freezer-api cannot start: " in line]
    assert len(errors) == 1, output
    assert "Traceback" not in output and "Booting worker" not in output
    return errors[0]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ("[DEFAULT]\nthreads = none\n", "[DEFAULT] threads in {conf}: invalid literal"),
        ("[keystone_authtoken]\nhttp_connect_timeout = 1s\n", "[keystone_authtoken] "),
        # a command-line option (oslo.log's) set in a file
        ("[DEFAULT]\nuse_json = maybe\n", "[DEFAULT] use_json: Invalid Boolean value: maybe"),
    ],
)
def test_a_bad_option_value_stops_the_start_with_one_line(tmp_path, options, said):
    conf = Path(write_config(tmp_path, free_port()))
    conf.write_text(conf.read_text() + options)
    assert said.format(conf=conf) in cannot_start(str(conf))


@pytest.mark.parametrize("scheme", ["postgresql", "mysql+pymysql"])
def test_an_unreachable_database_stops_the_start_with_one_line(tmp_path, scheme):
    port = free_port()  # nothing listens there
    conf = write_config(tmp_path, free_port(), max_retries="2", retry_interval="1")
    text = (
        Path(conf)
        .read_text()
        .replace(
            f"sqlite:///{tmp_path / 'served.db'}", f"{scheme}://freezer:s3cret@127.0.0.1:{port}/x"
        )
    )
    Path(conf).write_text(text)
    began = time.monotonic()
    line = cannot_start(conf)
    assert f"127.0.0.1:{port}" in line and "s3cret" not in line
    assert time.monotonic() - began >= 2, "[database] max_retries = 2, retry_interval = 1"


def test_with_a_log_file_a_failed_start_is_said_on_stderr_too(tmp_path):
    conf = Path(write_config(tmp_path, free_port(), sync_on_start="false"))
    log_file = tmp_path / "api.log"
    conf.write_text(conf.read_text().replace("[DEFAULT]\n", f"[DEFAULT]\nlog_file = {log_file}\n"))
    result = subprocess.run(
        [str(BIN / "freezer-api"), "--config-file", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "freezer-manage db sync" in result.stderr
    assert "freezer-manage db sync" in log_file.read_text()


def test_freezer_api_refuses_an_unmigrated_server_database(tmp_path):
    conf = write_config(tmp_path, free_port(), sync_on_start="false")
    assert "freezer-manage db sync" in cannot_start(conf)


@pytest.mark.parametrize(
    ("module", "old_options"),
    [
        ("freezer_api.cmd.api", ""),  # the seed README's line
        # freezer-api 19.0.0's module, with options of its configuration
        (
            "freezer_api.wsgi",
            "[storage]\nbackend = sqlalchemy\n[paste_deploy]\nconfig_file = freezer-paste.ini\n",
        ),
    ],
)
def test_uwsgi_serves_the_app_under_either_module_name(tmp_path, module, old_options):
    port = free_port()
    conf = write_config(tmp_path, port)
    Path(conf).write_text(Path(conf).read_text() + old_options)
    base = f"http://127.0.0.1:{port}"
    argv = [
        str(BIN / "uwsgi"),
        "--http",
        f"127.0.0.1:{port}",
        "--need-app",
        "--master",
        "--die-on-term",
        "--module",
        f"{module}:application",
    ]
    env = {"FREEZER_API_CONFIG": conf}
    with running(argv, f"{base}/", tmp_path / "log", env=env):
        exercise(base)
    log = (tmp_path / "log").read_text()
    assert f"configuration files: {conf}" in log
    assert ("[storage] backend is ignored" in log) == bool(old_options)


def statuses_on_one_connection(port: int) -> list[int]:
    """Requests answered before their body is read, then one more, on one connection.

    NOTE: each body is sent a moment after its headers, as http.client sends them over a
    real network; a body that arrives with its headers is swallowed by the server's buffer.
    """
    asked = [
        ("PUT", "/v2/p1/backups", b'{"backup_name": "etc"}'),  # 405
        ("POST", "/v2/p1/nowhere", b'{"a": 1}'),  # 404
        ("PATCH", "/v2/p1/backups/missing", b'{"a": 1}'),  # 404
        ("GET", "/v2/p1/backups?limit=1", b""),
    ]
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        answers = sock.makefile("rb")
        for method, path, body in asked:
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: test\r\nX-User-Id: u1\r\n"
                f"X-Project-Id: p1\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode())
            time.sleep(0.05)
            sock.sendall(body)
            status_line = answers.readline()
            if not status_line:
                statuses.append(0)  # the server closed the connection
                break
            length = 0
            while (line := answers.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            answers.read(length)
            statuses.append(int(status_line.split()[1]))
    return statuses


def server_argv(server: str, port: int, conf: str, module: str, *uwsgi_options: str) -> list[str]:
    """``freezer-api`` with ``conf``, or uwsgi (2 processes, keep-alive) loading ``module``."""
    if server != "uwsgi":
        return [str(BIN / "freezer-api"), "--config-file", conf]
    return [
        str(BIN / "uwsgi"),
        "--http11-socket",
        f"127.0.0.1:{port}",
        "--processes",
        "2",
        "--need-app",
        "--master",
        *uwsgi_options,
        "--module",
        f"{module}:application",
    ]


@pytest.mark.parametrize("server", ["uwsgi", "freezer-api"])
def test_answers_given_before_the_body_is_read_keep_the_connection(tmp_path, server):
    port = free_port()
    conf = write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    argv = server_argv(server, port, conf, "freezer_api.cmd.api")
    stop = signal.SIGINT if server == "uwsgi" else signal.SIGTERM
    env = {"FREEZER_API_CONFIG": conf}
    with running(argv, f"{base}/", tmp_path / "log", env=env, stop_signal=stop):
        for _ in range(3):
            assert statuses_on_one_connection(port) == [405, 404, 404, 200]


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ({"bind_host": "0.0.0.0"}, "[noauth] allow_remote"),
        ({"bind_host": "::"}, "[noauth] allow_remote"),
    ],
)
def test_noauth_refuses_a_network_address(tmp_path, extra, said):
    conf = write_config(tmp_path, free_port())
    with open(conf, "a") as handle:
        handle.write("[DEFAULT]\n" + "".join(f"{k} = {v}\n" for k, v in extra.items()))
    assert said in cannot_start(conf)


def test_noauth_on_a_network_address_can_be_forced_and_says_so(tmp_path):
    from freezer_api.cli.serve import check_exposure
    from freezer_api.config import load_settings

    conf = write_config(tmp_path, free_port())
    with open(conf, "a") as handle:
        handle.write("[DEFAULT]\nbind_host = 0.0.0.0\n[noauth]\nallow_remote = true\n")
    settings = load_settings(["--config-file", conf])
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign,assignment]
    logging.getLogger("freezer_api.cli.serve").addHandler(handler)
    try:
        check_exposure(settings)
    finally:
        logging.getLogger("freezer_api.cli.serve").removeHandler(handler)
    assert any("allow_remote" in record.getMessage() for record in records)


def test_a_stop_lets_the_requests_in_flight_finish(tmp_path):
    """SIGTERM (systemd's stop): the worker answers the request it is serving, then exits."""
    import sqlite3
    import threading

    port = free_port()
    conf = write_config(tmp_path, port, pool_timeout="5")
    base = f"http://127.0.0.1:{port}"
    answers: list[int] = []
    with running(
        [str(BIN / "freezer-api"), "--config-file", conf], f"{base}/", tmp_path / "log"
    ) as process:
        holder = sqlite3.connect(tmp_path / "served.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the POST below waits for this writer
        writer = threading.Thread(
            target=lambda: answers.append(
                requests.post(
                    f"{base}/v1/backups", json=make_v1_backup(), headers=user("ann"), timeout=30
                ).status_code
            )
        )
        writer.start()
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
        time.sleep(1)
        holder.execute("ROLLBACK")
        holder.close()
        writer.join(timeout=30)
        assert process.wait(timeout=40) == 0
    assert answers == [201]


@pytest.mark.parametrize("server", ["freezer-api", "uwsgi"])
def test_a_request_whose_body_never_completes_does_nothing_and_stalls_no_one(tmp_path, server):
    port = free_port()
    conf = write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    argv = server_argv(server, port, conf, "freezer_api.wsgi", "--threads", "4", "--die-on-term")
    headers = user("ann")
    with running(argv, f"{base}/", tmp_path / "log", env={"FREEZER_API_CONFIG": conf}):
        created = requests.post(
            f"{base}/v1/backups", json=make_v1_backup(), headers=headers, timeout=5
        )
        backup_id = created.json()["backup_id"]
        identity = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        # a DELETE that announces a body and sends part of it, then its client goes away
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(
            f"DELETE /v1/backups/{backup_id} HTTP/1.1\r\nHost: t\r\n{identity}"
            "Content-Length: 100\r\n\r\n{".encode()
        )
        time.sleep(0.5)
        half.close()
        time.sleep(0.5)
        kept = requests.get(f"{base}/v1/backups/{backup_id}", headers=headers, timeout=5)
        assert kept.status_code == 200  # nothing was done for the incomplete request
        # clients that announce bodies and send none, one fewer than a worker's threads (4
        # under both servers): each holds a thread, and wherever they land the others are served
        hanging = []
        for _ in range(3):
            stuck = socket.create_connection(("127.0.0.1", port))
            stuck.sendall(
                f"POST /v1/backups HTTP/1.1\r\nHost: t\r\n{identity}"
                "Content-Length: 500\r\n\r\n{".encode()
            )
            hanging.append(stuck)
        try:
            started = time.monotonic()
            served = requests.get(f"{base}/v1/backups", headers=headers, timeout=30)
            assert served.status_code == 200 and time.monotonic() - started < 5
        finally:
            for stuck in hanging:
                stuck.close()


@pytest.mark.parametrize("server", ["uwsgi", "freezer-api"])
def test_noauth_refuses_an_identity_header_given_twice(tmp_path, server):
    """The server joins a repeated header's values with commas; a user or project id given
    twice is refused instead of acting as a made-up identity."""
    import http.client

    port = free_port()
    conf = write_config(tmp_path, port)
    argv = server_argv(server, port, conf, "freezer_api.cmd.api")
    stop = signal.SIGINT if server == "uwsgi" else signal.SIGTERM
    env = {"FREEZER_API_CONFIG": conf}
    with running(argv, f"http://127.0.0.1:{port}/", tmp_path / "log", env=env, stop_signal=stop):
        for header in ("X-User-Id", "X-Project-Id"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.putrequest("GET", "/v2/p1/backups")
            connection.putheader(header, "p1")
            connection.putheader(header, "p2")
            connection.putheader("X-Roles", "reader")
            connection.endheaders()
            answer = connection.getresponse()
            body = json.loads(answer.read())
            connection.close()
            assert answer.status == 400, body
            assert f"The {header} header holds a comma" in body["description"]


@pytest.mark.parametrize("server", ["freezer-api", "uwsgi"])
def test_fail_stale_ends_a_job_whose_scheduler_went_silent(tmp_path, server):
    """``[jobs] fail_stale``: each worker process sweeps in a thread of its own (under
    uwsgi too, whose workers are forked after the app is loaded)."""
    port = free_port()
    conf = tmp_path / "freezer-api.conf"
    conf.write_text(
        f"[DEFAULT]\nbind_port = {port}\nworkers = 2\n"
        f"[database]\nconnection = sqlite:///{tmp_path / 'served.db'}\n"
        "[clients]\nalive_seconds = 10\n[jobs]\nlease_seconds = 10\nfail_stale = true\n"
    )
    base = f"http://127.0.0.1:{port}"
    argv = server_argv(server, port, str(conf), "freezer_api.wsgi", "--enable-threads")
    headers = {**user("ann", "p1"), "X-Roles": "member"}
    stop = signal.SIGINT if server == "uwsgi" else signal.SIGTERM
    env = {"FREEZER_API_CONFIG": str(conf)}
    if server == "uwsgi":
        subprocess.run(
            [str(BIN / "freezer-manage"), "--config-file", str(conf), "db", "sync"], check=True
        )
    with running(argv, f"{base}/", tmp_path / "log", env=env, stop_signal=stop):
        registered = requests.post(
            f"{base}/v2/p1/clients",
            json={"client_id": "sched-1", "hostname": "h1"},
            headers=headers,
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        job: dict[str, Any] = {
            "client_id": "sched-1",
            "job_actions": [{"freezer_action": {"action": "backup", "mode": "fs"}}],
        }
        created = requests.post(f"{base}/v2/p1/jobs", json=job, headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        job_id = created.json()["job_id"]
        running_now = {"job_schedule": {"status": "running"}}
        patched = requests.patch(
            f"{base}/v2/p1/jobs/{job_id}", json=running_now, headers=headers, timeout=10
        )
        assert patched.status_code == 200, patched.text
        deadline = time.monotonic() + 60
        schedule: dict[str, object] = {}
        while time.monotonic() < deadline:
            answer = requests.get(f"{base}/v2/p1/jobs/{job_id}", headers=headers, timeout=10)
            schedule = answer.json()["job_schedule"]
            if schedule["status"] != "running":
                break
            time.sleep(1)
        assert (schedule["status"], schedule["result"]) == ("completed", "fail"), schedule
    assert "ended as failed: its client sched-1" in (tmp_path / "log").read_text()


@pytest.mark.parametrize("server", ["freezer-api", "uwsgi", "gunicorn"])
def test_metrics_add_up_every_worker_process(tmp_path, server):
    """/metrics counts the requests of every worker, whichever answers the scrape:
    ``freezer-api`` keeps its workers' metrics in a directory of its own; under uwsgi or
    gunicorn the operator names one in ``PROMETHEUS_MULTIPROC_DIR``."""
    from prometheus_client.parser import text_string_to_metric_families

    port = free_port()
    conf = write_config(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    argv = server_argv(server, port, conf, "freezer_api.wsgi")
    if server == "gunicorn":
        argv = [
            str(BIN / "gunicorn"),
            "--workers", "2",
            "--bind", f"127.0.0.1:{port}",
            "freezer_api.wsgi:application",
        ]  # fmt: skip
    env = {"FREEZER_API_CONFIG": conf}
    if server != "freezer-api":
        (tmp_path / "metrics").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
        subprocess.run(
            [str(BIN / "freezer-manage"), "--config-file", conf, "db", "sync"], check=True
        )
    stop = signal.SIGINT if server == "uwsgi" else signal.SIGTERM
    headers = user("ann")
    with running(argv, f"{base}/", tmp_path / "log", env=env, stop_signal=stop):
        for _ in range(40):
            # NOTE: a new connection each time, so that both workers answer some
            answer = requests.get(f"{base}/v1/backups", headers=headers, timeout=10)
            assert answer.status_code == 200
        for _ in range(5):
            scraped = requests.get(f"{base}/metrics", timeout=10)
            assert scraped.status_code == 200
            counted = 0.0
            for family in text_string_to_metric_families(scraped.text):
                for sample in family.samples:
                    if sample.name == "freezer_api_requests_total" and sample.labels == {
                        "route": "/v1/backups",
                        "method": "GET",
                        "status": "200",
                    }:
                        counted += sample.value
            assert counted == 40, scraped.text
