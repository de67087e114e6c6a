# SPDX-License-Identifier: Apache-2.0
"""The log of a real freezer-api process: oslo.log's options, the request context, access lines."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest
import requests
from oslo_context import context
from oslo_log import formatters

from freezer_api import logs
from freezer_api.config import build_conf
from tests.conftest import make_v1_backup, user
from tests.processes import BIN, free_port, running
from tests.test_server import write_config

GLOBAL_ID = "req-12345678-1234-1234-1234-123456789012"


def with_default(conf_path: str, **options: str) -> None:
    """Add ``[DEFAULT]`` options to a configuration file written by ``write_config``."""
    with open(conf_path) as source:
        text = source.read()
    lines = "".join(f"{key} = {value}\n" for key, value in options.items())
    with open(conf_path, "w") as target:
        target.write(text.replace("[DEFAULT]\n", "[DEFAULT]\n" + lines, 1))


def start(tmp_path, default: dict[str, str], **database: str):
    port = free_port()
    conf = write_config(tmp_path, port, **database)
    with_default(conf, **default)
    argv = [str(BIN / "freezer-api"), "--config-file", conf]
    base = f"http://127.0.0.1:{port}"
    return base, running(argv, f"{base}/", tmp_path / "output")


@pytest.mark.slow
def test_every_line_of_a_request_names_it_and_each_request_has_one_access_line(tmp_path):
    log_file = tmp_path / "api.log"
    base, server = start(tmp_path, {"log_file": str(log_file)}, pool_timeout="1")
    headers = {**user("alice"), "X-Project-Id": "project-a"}
    with server:
        listed = requests.get(f"{base}/v2/project-a/backups?limit=5", headers=headers, timeout=5)
        # a writer holding the SQLite database makes the server's write wait, then answer 503
        holder = sqlite3.connect(tmp_path / "served.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy = requests.post(
                f"{base}/v1/backups", json=make_v1_backup(), headers=headers, timeout=30
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert listed.status_code == 200 and busy.status_code == 503, busy.text
    log = log_file.read_text()
    assert (tmp_path / "output").read_text() == ""  # with a log file, nothing on the terminal
    listed_id = listed.headers["X-Openstack-Request-Id"]
    listed_lines = [line for line in log.splitlines() if listed_id in line]
    assert len(listed_lines) == 1, log
    assert f"INFO freezer_api.access [None {listed_id} alice project-a " in listed_lines[0]
    assert '"GET /v2/project-a/backups?limit=5 HTTP/1.1" status: 200 len: ' in listed_lines[0]
    busy_id = busy.headers["X-Openstack-Request-Id"]
    busy_lines = [line for line in log.splitlines() if busy_id in line]
    assert len(busy_lines) == 3, log
    store, warning, busy_access = busy_lines
    assert "freezer_api.storage" in store and "database is locked" in store
    assert " WARNING freezer_api.api.errors " in warning
    assert f"{busy_id} alice project-a" in warning and "POST /v1/backups answered 503" in warning
    assert '"POST /v1/backups HTTP/1.1" status: 503' in busy_access
    time_taken = float(busy_access.rsplit("time: ", 1)[1])
    assert time_taken >= 0.9  # it waited [database] pool_timeout for the lock


@pytest.mark.slow
def test_use_json_and_log_dir_write_one_json_document_per_line(tmp_path):
    base, server = start(tmp_path, {"log_dir": str(tmp_path), "use_json": "true"})
    with server:
        answer = requests.get(f"{base}/v2/p/backups", headers=user("bob"), timeout=5)
    log = (tmp_path / "freezer-api.log").read_text()
    records = [json.loads(line) for line in log.splitlines()]
    access = [
        record
        for record in records
        if record["name"] == "freezer_api.access" and "/v2/p/backups" in record["message"]
    ]
    assert len(access) == 1
    context = access[0]["context"]
    assert context["request_id"] == answer.headers["X-Openstack-Request-Id"]
    assert context["user"] == "bob" and context["project"] == "project-a"
    assert any("serving on" in record["message"] for record in records)


@pytest.mark.slow
def test_debug_logs_the_health_checks_which_are_quiet_otherwise(tmp_path):
    for debug in ("false", "true"):
        folder = tmp_path / debug
        folder.mkdir()
        base, server = start(folder, {"debug": debug})
        with server:
            assert requests.get(f"{base}/healthcheck", timeout=5).status_code == 200
        output = (folder / "output").read_text()
        healthchecks = [line for line in output.splitlines() if '"GET /healthcheck' in line]
        assert len(healthchecks) == (1 if debug == "true" else 0), output
        if healthchecks:
            assert " DEBUG freezer_api.access [None req-" in healthchecks[0]


@pytest.mark.slow
def test_log_config_append_hands_the_log_to_a_logging_configuration_file(tmp_path):
    target = tmp_path / "by-logging-config.log"
    logging_conf = tmp_path / "logging.conf"
    logging_conf.write_text(
        "[loggers]\nkeys = root\n"
        "[handlers]\nkeys = file\n"
        "[formatters]\nkeys = context\n"
        "[logger_root]\nlevel = INFO\nhandlers = file\n"
        "[handler_file]\nclass = FileHandler\nformatter = context\n"
        f"args = ('{target}',)\n"
        "[formatter_context]\nclass = oslo_log.formatters.ContextFormatter\n"
    )
    base, server = start(tmp_path, {"log_config_append": str(logging_conf)})
    with server:
        answer = requests.get(f"{base}/v2/p/backups", headers=user("carol"), timeout=5)
    log = target.read_text()
    request_id = answer.headers["X-Openstack-Request-Id"]
    assert f"{request_id} carol project-a" in log and '"GET /v2/p/backups HTTP/1.1"' in log


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
@pytest.mark.parametrize(
    "who",
    [
        {"user_id": "alice", "project_id": "project-a"},
        {"user_id": "bob", "project_id": "p", "global_request_id": GLOBAL_ID},
        {},
    ],
)
def test_access_lines_read_as_oslo_logs_context_formatter_writes_them(level, who):
    """The access lines' own formatter (4x cheaper) writes what oslo.log's would."""
    conf = build_conf([], config_files=False)
    request_context = context.RequestContext(
        request_id="req-6c3891a3-d558-49f8-af36-6c79695ca5b8",
        global_request_id=who.get("global_request_id"),
        overwrite=True,
    )
    request_context.user_id = who.get("user_id")
    request_context.project_id = who.get("project_id")
    args = ("127.0.0.1", "GET", "/v2/p/backups", "?limit=5", "HTTP/1.1", "200", "14", 0.0063)
    record = logs.ACCESS.makeRecord(
        logs.ACCESS.name, level, __file__, 7, logs.ACCESS_FORMAT, args, None, func="test"
    )
    oslo = formatters.ContextFormatter(
        project="freezer-api", version="1", datefmt=conf.log_date_format, config=conf
    )
    ours = logs.AccessFormatter(conf.logging_debug_format_suffix)
    expected = oslo.format(logging.makeLogRecord(dict(record.__dict__)))
    assert ours.format(logging.makeLogRecord(dict(record.__dict__))) == expected
    assert '"GET /v2/p/backups?limit=5 HTTP/1.1" status: 200 len: 14 time: 0.0063' in expected
