# SPDX-License-Identifier: Apache-2.0
"""freezer-status upgrade check: real checks and the 0/1/2 exit codes."""

from __future__ import annotations

from pathlib import Path

from freezer_api.cli import manage, status


def config_file(tmp_path: Path, text: str = "") -> str:
    path = tmp_path / "api.conf"
    path.write_text(f"[database]\nconnection = sqlite:///{tmp_path / 'db.sqlite'}\n{text}")
    return str(path)


KEYSTONE = (
    "[DEFAULT]\nauth_strategy = keystone\n[keystone_authtoken]\n"
    "www_authenticate_uri = http://127.0.0.1:5000\nauth_type = password\n"
)


def check(conf: str) -> int:
    return status.main(["--config-file", conf, "upgrade", "check"])


def test_an_unmigrated_database_fails(tmp_path, capsys):
    assert check(config_file(tmp_path)) == 2
    assert "freezer-manage" in capsys.readouterr().out


def test_noauth_on_loopback_is_a_warning(tmp_path, capsys):
    conf = config_file(tmp_path)
    assert manage.main(["--config-file", conf, "db", "sync"]) == 0
    assert check(conf) == 1
    assert "noauth" in capsys.readouterr().out


def test_keystone_configured_passes(tmp_path, capsys):
    conf = config_file(tmp_path, KEYSTONE)
    assert manage.main(["--config-file", conf, "db", "sync"]) == 0
    assert check(conf) == 0


def test_keystone_without_authtoken_settings_fails(tmp_path, capsys):
    conf = config_file(tmp_path, "[DEFAULT]\nauth_strategy = keystone\n")
    assert manage.main(["--config-file", conf, "db", "sync"]) == 0
    assert check(conf) == 2
    assert "www_authenticate_uri" in capsys.readouterr().out


def test_a_broken_policy_file_fails(tmp_path, capsys):
    policy = tmp_path / "policy.yaml"
    policy.write_text('"backups:get_all": "rule:nonexistent"\n')
    conf = config_file(tmp_path, KEYSTONE + f"[oslo_policy]\npolicy_file = {policy}\n")
    assert manage.main(["--config-file", conf, "db", "sync"]) == 0
    assert check(conf) == 2
    assert "policy rules cannot be used" in capsys.readouterr().out
