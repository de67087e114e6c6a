# SPDX-License-Identifier: Apache-2.0
"""freezer-manage: db sync and db version, and a non-zero exit on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from freezer_api.cli import manage
from freezer_api.storage.sql import migrate


def config_file(tmp_path: Path, url: str) -> str:
    path = tmp_path / "api.conf"
    path.write_text(f"[database]\nconnection = {url}\n")
    return str(path)


def test_sync_then_version(tmp_path, capsys):
    conf = config_file(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert manage.main(["--config-file", conf, "db", "version"]) == 0
    assert capsys.readouterr().out.strip() == "none"
    assert manage.main(["--config-file", conf, "db", "sync"]) == 0
    assert migrate.head() in capsys.readouterr().out
    assert manage.main(["--config-file", conf, "db", "sync"]) == 0
    capsys.readouterr()
    assert manage.main(["--config-file", conf, "db", "version"]) == 0
    assert capsys.readouterr().out.strip() == migrate.head()


def test_failure_exits_non_zero(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    conf = config_file(tmp_path, f"sqlite:///{blocker}/under-a-file.db")
    assert manage.main(["--config-file", conf, "db", "sync"]) == 1
    assert "freezer-manage: error:" in capsys.readouterr().err


def test_unreachable_database_exits_non_zero(tmp_path, capsys):
    conf = config_file(tmp_path, "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert manage.main(["--config-file", conf, "db", "version"]) == 1
    assert "error" in capsys.readouterr().err


def test_a_missing_config_file_exits_non_zero(tmp_path, capsys):
    assert manage.main(["--config-file", str(tmp_path / "absent.conf"), "db", "sync"]) == 1


def test_every_command_says_its_version(capsys):
    from freezer_api import version
    from freezer_api.cli import serve, status

    assert version()[0].isdigit()
    with pytest.raises(SystemExit) as exited:
        manage.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"freezer-manage {version()}"
    assert status.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"freezer-status {version()}"
    with pytest.raises(SystemExit) as exited:
        serve.main(["--version"])
    assert exited.value.code == 0
    assert version() in capsys.readouterr().out
