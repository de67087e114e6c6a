# SPDX-License-Identifier: Apache-2.0
"""``freezer-status upgrade check``: is this deployment ready to serve this release?

Exit codes follow oslo.upgradecheck: 0 all good, 1 a warning, 2 a failure.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from oslo_config import cfg
from oslo_upgradecheck import common_checks, upgradecheck

from freezer_api import version
from freezer_api.app import backend
from freezer_api.cli import is_loopback
from freezer_api.config import default_config_files, new_conf, settings_from_conf
from freezer_api.policy import Policy

Result = upgradecheck.Result
Code = upgradecheck.Code


class Checks(upgradecheck.UpgradeCommands):
    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._conf = conf
        # NOTE: oslo.upgradecheck calls each check with the command as first argument.
        self._upgrade_checks = (
            ("Database schema", Checks._check_schema),
            ("Policy file", Checks._check_policy),
            ("Policy file format", (common_checks.check_policy_json, {"conf": conf})),
            ("Authentication", Checks._check_auth),
        )

    def _check_schema(self) -> Result:
        database = backend(settings_from_conf(self._conf))
        try:
            problems = database.check()
        except Exception as error:  # noqa: BLE001 - any failure to reach the database
            return Result(Code.FAILURE, f"Cannot read the database: {error}")
        if problems:
            return Result(Code.FAILURE, "; ".join(problems).capitalize() + ".")
        return Result(Code.SUCCESS, f"The schema is at {database.head()}.")

    def _check_policy(self) -> Result:
        try:
            Policy(self._conf).load()
        except Exception as error:  # noqa: BLE001 - oslo.policy raises several kinds
            return Result(Code.FAILURE, f"The policy rules cannot be used: {error}")
        return Result(Code.SUCCESS)

    def _check_auth(self) -> Result:
        settings = settings_from_conf(self._conf)
        if settings.auth_strategy == "keystone":
            authtoken = self._conf.keystone_authtoken
            missing = [
                name for name in ("www_authenticate_uri", "auth_type") if not authtoken[name]
            ]
            if missing:
                needed = ", ".join(missing)
                return Result(
                    Code.FAILURE,
                    f"[keystone_authtoken] needs {needed} for auth_strategy = keystone.",
                )
            return Result(Code.SUCCESS, "Keystone tokens are validated by auth_token.")
        if not is_loopback(settings.bind_host) and not settings.allow_remote_noauth:
            return Result(
                Code.FAILURE,
                f"auth_strategy = noauth on {settings.bind_host}: freezer-api will refuse to "
                "start. Use auth_strategy = keystone.",
            )
        return Result(
            Code.WARNING,
            "auth_strategy = noauth trusts identity headers: for development only.",
        )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--version" in arguments:
        print(f"freezer-status {version()}")
        return 0
    conf = new_conf()
    code: int = upgradecheck.main(
        conf,
        project="freezer-api",
        upgrade_command=Checks(conf),
        argv=arguments,
        default_config_files=default_config_files(),
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
