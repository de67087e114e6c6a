# SPDX-License-Identifier: Apache-2.0
"""oslo.config options, files and the sample generator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from freezer_api import config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults(monkeypatch):
    monkeypatch.setattr(config, "DEFAULT_CONFIG_FILES", ())
    monkeypatch.delenv("FREEZER_API_CONFIG", raising=False)
    settings = config.load_settings([])
    assert (settings.bind_host, settings.bind_port) == ("127.0.0.1", 9090)
    assert settings.auth_strategy == "noauth"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("freezer-api/freezer-api.db")
    assert (settings.default_limit, settings.max_limit) == (10, 1000)
    assert settings.noauth.roles == ("member", "reader")


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_config_file_is_read(tmp_path):
    path = write(
        tmp_path / "api.conf",
        "[DEFAULT]\nbind_port = 9999\nworkers = 7\n[database]\nconnection = sqlite:////x.db\n"
        "[api]\nmax_limit = 50\n[noauth]\nroles = admin, Reader\n",
    )
    settings = config.load_settings(["--config-file", path])
    assert (settings.bind_port, settings.workers, settings.max_limit) == (9999, 7, 50)
    assert settings.database_url == "sqlite:////x.db"
    assert settings.noauth.roles == ("admin", "reader")
    assert "x.db" not in repr(settings), "the database URL may hold a password"


def test_default_paths_are_searched_in_order(tmp_path, monkeypatch):
    seed = write(tmp_path / "freezer-api.conf", "[DEFAULT]\nbind_port = 1111\n")
    other = write(tmp_path / "other.conf", "[DEFAULT]\nbind_port = 2222\n")
    monkeypatch.delenv("FREEZER_API_CONFIG", raising=False)
    monkeypatch.setattr(config, "DEFAULT_CONFIG_FILES", (seed, other))
    assert config.load_settings([]).bind_port == 1111
    monkeypatch.setattr(config, "DEFAULT_CONFIG_FILES", (str(tmp_path / "absent.conf"), other))
    assert config.load_settings([]).bind_port == 2222
    monkeypatch.setenv("FREEZER_API_CONFIG", seed)
    assert config.load_settings([]).bind_port == 1111


def test_command_line_flags_override_the_file(tmp_path):
    path = write(tmp_path / "api.conf", "[DEFAULT]\nbind_port = 9999\n")
    argv = ["--config-file", path, "--bind-port", "8080", "--bind-host", "::1"]
    settings = config.load_settings(argv)
    assert (settings.bind_host, settings.bind_port) == ("::1", 8080)


def test_invalid_values_are_refused(tmp_path):
    path = write(tmp_path / "api.conf", "[DEFAULT]\nauth_strategy = magic\n")
    with pytest.raises(ValueError):
        config.load_settings(["--config-file", path])


def test_oslo_config_generator_prints_a_sample():
    generator = Path(sys.executable).with_name("oslo-config-generator")
    result = subprocess.run(
        [str(generator), "--namespace", "freezer-api"],
        capture_output=True,
        text=True,
        check=True,
    )
    for expected in (
        "[DEFAULT]",
        "#bind_port = 9090",
        "[database]",
        "#connection",
        "[api]",
        "#max_limit = 1000",
        "#auth_strategy = noauth",
    ):
        assert expected in result.stdout


def test_oslopolicy_sample_generator_prints_the_rules():
    generator = Path(sys.executable).with_name("oslopolicy-sample-generator")
    result = subprocess.run(
        [str(generator), "--namespace", "freezer-api"], capture_output=True, text=True, check=True
    )
    for expected in (
        '#"admin_or_service": "role:admin or role:service"',
        '#"backups:create": "rule:backup_writer"',
        '#"catalogue_reader": "rule:admin_or_reader"',
        '#"jobs:get_all": "rule:admin_or_reader_or_service"',
        '#"clients:create_central": "rule:admin_or_service"',
        '#"jobs:get_all_projects": "rule:admin_or_service"',
        "# POST  /v2/{project_id}/sessions/{session_id}/action",
    ):
        assert expected in result.stdout


def test_the_shipped_sample_shows_the_defaults_the_server_uses(tmp_path):
    """Uncommenting every default of the generated sample configures what no file does."""
    generator = Path(sys.executable).with_name("oslo-config-generator")
    sample = tmp_path / "freezer-api.conf.sample"
    subprocess.run(
        [
            str(generator),
            "--config-file",
            str(ROOT / "etc" / "oslo-config-generator" / "freezer-api.conf"),
            "--output-file",
            str(sample),
        ],
        check=True,
        cwd=tmp_path,
    )
    text = sample.read_text()
    assert "[oslo_policy]" in text and "#policy_file = policy.yaml" in text
    assert "#max_request_body_size = 1048576" in text
    assert "#disable_by_file_path = /etc/freezer/healthcheck_disable" in text
    assert "#log_file = <None>" in text and ",alembic=WARN" in text  # oslo.log's, with ours
    assert str(Path.home()) not in text
    uncommented = tmp_path / "uncommented.conf"
    lines = []
    for line in text.splitlines():
        match = re.fullmatch(r"#([a-z][a-z0-9_]*) = (.*)", line)
        if match and match[2] != "<None>":
            lines.append(f"{match[1]} = {match[2]}")
        elif not line.startswith("#"):
            lines.append(line)
    uncommented.write_text("\n".join(lines) + "\n")
    given = config.build_conf(["--config-file", str(uncommented)])
    defaults = config.build_conf([], config_files=False)
    compared = 0
    for group, opts in config.registered_opts():
        section = given if group == "DEFAULT" else given[group]
        default = defaults if group == "DEFAULT" else defaults[group]
        for opt in opts:
            assert section[opt.dest] == default[opt.dest], (group, opt.dest)
            compared += 1
    assert compared > 50
    assert given.default_log_levels == defaults.default_log_levels


#: a configuration written for freezer-api 19.0.0 (its options and oslo.db's)
FREEZER_API_19_CONF = """\
[DEFAULT]
bind-port = 9999
workers = 3
[storage]
backend = sqlalchemy
driver = sqlalchemy
[database]
connection = sqlite:////srv/freezer.db
max_pool_size = 7
sqlite_synchronous = {synchronous}
idle_timeout = 120
max_retries = 3
db_max_retries = 5
mysql_wsrep_sync_wait = 0
[paste_deploy]
config_file = freezer-paste.ini
[elasticsearch]
hosts = http://127.0.0.1:9200
[centralized_scheduler]
enforce_trusts = false
"""


@pytest.mark.parametrize(("synchronous", "mode"), [("true", "FULL"), ("False", "NORMAL")])
def test_a_freezer_api_19_configuration_keeps_its_meaning(tmp_path, synchronous, mode):
    path = write(tmp_path / "old.conf", FREEZER_API_19_CONF.format(synchronous=synchronous))
    settings = config.load_settings(["--config-file", path])
    assert (settings.pool_size, settings.pool_recycle, settings.workers) == (7, 120, 3)
    assert settings.sqlite_synchronous == mode
    assert (settings.max_retries, settings.wsrep_sync_wait) == (3, 0)
    assert settings.paste_config is None  # 19.0.0's freezer-paste.ini cannot build this app


def test_what_a_freezer_api_19_configuration_sets_in_vain_is_said_line_by_line(tmp_path):
    path = write(tmp_path / "old.conf", FREEZER_API_19_CONF.format(synchronous="true"))
    lines = config.ignored_options(config.build_conf(["--config-file", path]))
    said = {line.split(" is ignored: ")[0].removeprefix(f"{path}: ") for line in lines}
    assert said == {
        "[DEFAULT] bind-port",
        "[storage] backend",
        "[storage] driver",
        "[database] db_max_retries",
        "[elasticsearch] hosts",
        "[centralized_scheduler] enforce_trusts",
        "[paste_deploy] config_file freezer-paste.ini is freezer-api 19.0.0's pipeline, which "
        "cannot serve this server: the packaged api-paste.ini serves instead",
    }
    assert f"{path}: [DEFAULT] bind-port is ignored: options are spelt with underscores" in lines[0]


def test_sqlite_synchronous_refuses_what_is_neither_a_mode_nor_a_boolean(tmp_path):
    path = write(tmp_path / "api.conf", "[database]\nsqlite_synchronous = OFF\n")
    with pytest.raises(ValueError, match=r"\[database\] sqlite_synchronous in .*FULL, NORMAL"):
        config.load_settings(["--config-file", path])


def test_a_paste_file_of_this_server_is_kept(tmp_path):
    own = write(tmp_path / "api-paste.ini", "[pipeline:noauth]\npipeline = freezer_api\n")
    legacy = write(
        tmp_path / "freezer-paste.ini",
        "[app:appv2]\npaste.app_factory = freezer_api.service:freezer_appv2_factory\n",
    )
    assert config.paste_file(own) == own
    assert config.paste_file(legacy) is None
