# SPDX-License-Identifier: Apache-2.0
"""db export / db import: round trips between engines, and freezer-api 19.0.0's database."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

from freezer_api.app import create_app
from freezer_api.cli import manage
from freezer_api.storage import open_backend
from freezer_api.storage.sql import migrate
from tests.conftest import V2, make_action, make_backup, make_job, make_settings, make_v1_backup
from tests.processes import BIN

ROOT = Path(__file__).resolve().parents[2]
LEGACY_VENV = Path(os.environ.get("FREEZER_TEST_LEGACY_VENV", ROOT / ".venv-freezer-api-19"))


def conf_for(tmp_path: Path, url: str, name: str) -> str:
    path = tmp_path / f"{name}.conf"
    path.write_text(f"[database]\nconnection = {url}\n")
    return str(path)


def manage_ok(*argv: str) -> None:
    assert manage.main(list(argv)) == 0


def synced_sqlite(tmp_path: Path, name: str) -> tuple[str, str]:
    """A new SQLite database at the current schema: its URL and its config file."""
    url = f"sqlite:///{tmp_path / name}.db"
    conf = conf_for(tmp_path, url, name)
    manage_ok("--config-file", conf, "db", "sync")
    return url, conf


def fill(client: falcon.testing.TestClient) -> None:
    api = V2(client, "p1")
    client_id = api.register()
    job_id = api.created("jobs", make_job(client_id))
    api.created("backups", make_backup())
    api.created("actions", {"freezer_action": make_action(), "action_id": "standalone"})
    session_id = api.created("sessions", {"schedule": {}})
    api.put(f"sessions/{session_id}/jobs/{job_id}")
    api.patch(f"jobs/{job_id}", {"description": "changed"})
    other = V2(client, "p2", user_id="u2")
    other.created("backups", make_backup(backup_name="other"))
    client.simulate_post("/v1/backups", json=make_v1_backup(), headers={"X-User-Id": "v1user"})


def test_a_round_trip_loses_nothing(client, database_url, tmp_path):
    fill(client)
    source = conf_for(tmp_path, database_url, "source")
    first = tmp_path / "first.jsonl"
    manage_ok("--config-file", source, "db", "export", "--output", str(first))
    target_url, target = synced_sqlite(tmp_path, "target")
    manage_ok("--config-file", target, "db", "import", "--input", str(first))
    second = tmp_path / "second.jsonl"
    manage_ok("--config-file", target, "db", "export", "--output", str(second))
    assert first.read_text() == second.read_text()
    lines = [json.loads(line) for line in first.read_text().splitlines()]
    assert {line["kind"] for line in lines} == {"backups", "clients", "jobs", "actions", "sessions"}

    served = falcon.testing.TestClient(create_app(make_settings(target_url)))
    original, copy = V2(client, "p1"), V2(served, "p1")
    for plural in ("backups", "clients", "jobs", "actions", "sessions"):
        assert copy.listed(plural) == original.listed(plural)


def test_an_import_is_all_or_nothing(client, database_url, tmp_path, capsys):
    fill(client)
    conf = conf_for(tmp_path, database_url, "db")
    dump = tmp_path / "dump.jsonl"
    manage_ok("--config-file", conf, "db", "export", "--output", str(dump))
    _, target = synced_sqlite(tmp_path, "target")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(dump.read_text() + dump.read_text().splitlines()[0] + "\n")
    assert manage.main(["--config-file", target, "db", "import", "--input", str(broken)]) == 1
    first = json.loads(dump.read_text().splitlines()[0])
    error = capsys.readouterr().err
    assert f"the {first['kind']} record {first['doc_id']} already exists twice in the input" in (
        error
    ), error
    empty = tmp_path / "empty.jsonl"
    manage_ok("--config-file", target, "db", "export", "--output", str(empty))
    assert empty.read_text() == ""


@pytest.mark.parametrize(
    ("where", "text", "said"),
    [
        ("doc", "nul \u0000 here", "U+0000 (NUL)"),
        ("doc", "half \ud800 pair", "a lone surrogate"),
        ("key", "nul \u0000 key", "U+0000 (NUL)"),
        ("doc_id", "id\u0000", "U+0000 (NUL)"),
    ],
)
def test_an_import_refuses_text_the_api_refuses(database_url, tmp_path, capsys, where, text, said):
    # the line holds the JSON escape; the parsed string holds the character
    migrate.upgrade_url(database_url)
    conf = conf_for(tmp_path, database_url, "db")
    metadata = {"backup_name": "b", "container": "c"}
    if where == "doc":
        metadata["note"] = text
    elif where == "key":
        metadata[text] = "value"
    record = {
        "kind": "backups",
        "doc_id": text if where == "doc_id" else "b1",
        "project_id": "p1",
        "user_id": "u1",
        "doc": {"status": "available", "backup_metadata": metadata},
        "fields": {"backup_name": "b", "container": "c"},
    }
    good = {**record, "doc_id": "b0", "doc": {"status": "available", "backup_metadata": {}}}
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n")
    assert manage.main(["--config-file", conf, "db", "import", "--input", str(lines)]) == 1
    error = capsys.readouterr().err
    assert said in error and "backups record" in error, error
    dump = tmp_path / "dump.jsonl"
    manage_ok("--config-file", conf, "db", "export", "--output", str(dump))
    assert dump.read_text() == ""


@pytest.fixture
def legacy_database(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A freezer-api 19.0.0 SQLite database, built and filled by 19.0.0's own code."""
    if not (LEGACY_VENV / "bin" / "freezer-manage").exists():
        pytest.fail(f"no freezer-api 19.0.0 virtualenv at {LEGACY_VENV}: run 'make test'")
    url = f"sqlite:///{tmp_path / 'freezer-api-19.db'}"
    conf = tmp_path / "legacy.conf"
    conf.write_text(f"[database]\nconnection = {url}\n")
    subprocess.run(
        [str(LEGACY_VENV / "bin" / "freezer-manage"), "--config-file", str(conf), "db", "sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    seeded = subprocess.run(
        [
            str(LEGACY_VENV / "bin" / "python"),
            str(Path(__file__).with_name("seed_freezer_api_19.py")),
            str(conf),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return url, json.loads(seeded.stdout)


def test_import_from_a_freezer_api_19_database(client, database_url, legacy_database, tmp_path):
    legacy_url, expected = legacy_database
    conf = conf_for(tmp_path, database_url, "db")
    manage_ok("--config-file", conf, "db", "import", "--from-freezer-api", legacy_url)
    api = V2(client, "p1")
    api.headers["X-Roles"] = "member,reader"

    backups = api.listed("backups")
    assert backups == expected["backups"]
    assert api.get(f"backups/{expected['deleted_backup']}").status_code == 404

    old_job = expected["job"]
    job = api.get(f"jobs/{old_job['job_id']}").json
    for key in ("job_id", "project_id", "user_id", "client_id", "description", "job_schedule"):
        assert job[key] == old_job[key], key
    for new, old in zip(job["job_actions"], old_job["job_actions"], strict=True):
        assert new["action_id"] == old["action_id"]
        assert new["max_retries"] == old["max_retries"]
        assert new["freezer_action"] == old["freezer_action"]

    old_action = expected["action"]
    action = api.get(f"actions/{old_action['action_id']}").json
    assert action["freezer_action"] == old_action["freezer_action"]
    assert action["max_retries"] == old_action["max_retries"]

    old_session = expected["session"]
    session = api.get(f"sessions/{old_session['session_id']}").json
    for key in ("description", "schedule", "session_tag", "status", "hold_off", "time_start"):
        assert session[key] == old_session[key], key

    client_doc = api.get(f"clients/{expected['client_id']}").json
    assert client_doc["client"]["hostname"] == "host1"
    # the imported catalogue is fully usable: the scheduler's poll finds the job
    poll = {"match_not": [{"status": "completed"}], "match": [{"client_id": "p1_host1"}]}
    assert [j["job_id"] for j in api.listed("jobs", poll)] == [old_job["job_id"]]
    migrate.upgrade_url(database_url)


def test_an_export_is_one_snapshot_while_writers_go_on(client, database_url):
    fill(client)
    api = V2(client, "p1")
    before = len(list(open_backend(database_url).export()))
    exported = open_backend(database_url).export()
    first = next(exported)
    # written after the export began: in no table of this export
    late_backup = api.created("backups", make_backup(backup_name="late"))
    late_session = api.created("sessions", {"schedule": {}})
    rest = list(exported)
    ids = [record["doc_id"] for record in [first, *rest]]
    assert late_backup not in ids and late_session not in ids
    assert len(ids) == before
    again = {record["doc_id"] for record in open_backend(database_url).export()}
    assert {late_backup, late_session} <= again


def test_a_dry_run_says_what_it_would_import_and_writes_nothing(client, database_url, tmp_path):
    fill(client)
    dump = tmp_path / "dump.jsonl"
    manage_ok(
        "--config-file", conf_for(tmp_path, database_url, "db"), "db", "export", "-o", str(dump)
    )
    _, target = synced_sqlite(tmp_path, "target")
    result = run_manage("--config-file", target, "db", "import", "--dry-run", "-i", str(dump))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "would import 2 actions, 3 backups, 1 clients, 1 jobs, 1 sessions "
        "(dry run: nothing was written)"
    )
    empty = run_manage("--config-file", target, "db", "export")
    assert empty.returncode == 0 and empty.stdout == ""


def test_an_import_error_names_the_line_and_the_record(database_url, tmp_path, capsys):
    migrate.upgrade_url(database_url)
    conf = conf_for(tmp_path, database_url, "db")
    good = {
        "kind": "backups",
        "doc_id": "b0",
        "project_id": "p1",
        "user_id": "u1",
        "doc": {"status": "available", "backup_metadata": {}},
        "fields": {"backup_name": "b", "container": "c"},
    }
    bad = {**good, "doc_id": "b1", "fields": {"colour": "red"}}
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
    assert manage.main(["--config-file", conf, "db", "import", "--input", str(lines)]) == 1
    error = capsys.readouterr().err
    assert f"{lines} line 3: backups records have no fields ['colour']" in error, error
    lines.write_text(json.dumps(good) + "\n")
    manage_ok("--config-file", conf, "db", "import", "--input", str(lines))
    assert manage.main(["--config-file", conf, "db", "import", "--input", str(lines)]) == 1
    error = capsys.readouterr().err
    assert "line 1: the backups record b0 already exists in the database" in error, error


def test_a_database_without_the_schema_says_to_run_db_sync(tmp_path, capsys):
    conf = conf_for(tmp_path, f"sqlite:///{tmp_path / 'blank.db'}", "blank")
    for command in (["export"], ["import", "--input", "/dev/null"]):
        assert manage.main(["--config-file", conf, "db", *command]) == 1
        error = capsys.readouterr().err
        assert "run 'freezer-manage db sync'" in error and "unavailable" not in error, error


def test_long_commands_say_how_far_they_have_gone(client, database_url, tmp_path):
    fill(client)
    conf = conf_for(tmp_path, database_url, "db")
    dump = tmp_path / "dump.jsonl"
    # stderr to a pipe: periodic lines (here after every record) and a last one
    result = run_manage(
        "--config-file", conf, "db", "export", "-o", str(dump), "--progress-every", "0"
    )
    lines = result.stderr.splitlines()
    total = len(dump.read_text().splitlines())
    assert lines[-1].startswith(f"exported {total} records in ") and lines[-1].endswith("/s)")
    assert [line.split(" records")[0] for line in lines] == [
        f"exported {count}" for count in [*range(1, total + 1), total]
    ]
    # on a terminal: tqdm's bar
    _, target = synced_sqlite(tmp_path, "target")
    primary, secondary = pty.openpty()
    with os.fdopen(primary, "rb", buffering=0) as terminal:
        process = subprocess.Popen(
            [str(BIN / "freezer-manage"), "--config-file", target, "db", "import", "-i", str(dump)],
            stdout=subprocess.PIPE,
            stderr=secondary,
        )
        os.close(secondary)
        out, _ = process.communicate(timeout=120)
        shown = b""
        with contextlib.suppress(OSError):  # the terminal closes with the process
            while chunk := terminal.read(4096):
                shown += chunk
    assert process.returncode == 0
    assert out.decode().strip().startswith("imported 2 actions, 3 backups")
    assert b"read: " in shown and f"{total} records".encode() in shown, shown
    assert b"records/s" in shown, shown


def run_manage(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "freezer-manage"), *argv], capture_output=True, text=True, timeout=120
    )


def test_a_batched_import_says_what_it_left_and_goes_on_with_skip_existing(
    client, database_url, tmp_path, capsys
):
    """--batch-size commits every N records; an error leaves the batches before it and says
    so; --skip-existing then imports the rest, whatever was stored already."""
    fill(client)
    dump = tmp_path / "dump.jsonl"
    manage_ok(
        "--config-file", conf_for(tmp_path, database_url, "db"), "db", "export", "-o", str(dump)
    )
    lines = dump.read_text().splitlines()
    _, target = synced_sqlite(tmp_path, "target")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:5], '{"kind": "nothing"}', *lines[5:]]) + "\n")
    argv = ["--config-file", target, "db", "import", "--batch-size", "2", "-i"]
    assert manage.main([*argv, str(broken)]) == 1
    error = capsys.readouterr().err
    assert f"{broken} line 6: unknown record kind 'nothing'" in error, error
    assert "the batches before it were committed and stay" in error
    assert "--skip-existing" in error
    partial = run_manage("--config-file", target, "db", "export")
    assert len(partial.stdout.splitlines()) == 4  # two batches of two

    assert manage.main([*argv, str(dump), "--skip-existing"]) == 0
    assert "4 skipped" in capsys.readouterr().out
    whole = run_manage("--config-file", target, "db", "export")
    assert sorted(whole.stdout.splitlines()) == sorted(lines)
    with pytest.raises(SystemExit) as refused:
        manage.main(["--config-file", target, "db", "import", "--batch-size", "0"])
    assert refused.value.code == 2
    assert "--batch-size: must be 1 or more, not 0" in capsys.readouterr().err
