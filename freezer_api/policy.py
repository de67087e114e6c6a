# SPDX-License-Identifier: Apache-2.0
"""Policy: rule names, their in-code defaults, and enforcement with oslo.policy.

The defaults are those of freezer-api 19.0.0 (member, reader, admin and service roles,
project scope); operators override them in ``policy.yaml`` as usual.
"""

from __future__ import annotations

import time

from oslo_config import cfg
from oslo_policy import policy

from freezer_api.context import Identity
from freezer_api.errors import Forbidden

PROJECT = ["project"]

BASE_RULES = [
    policy.RuleDefault("context_is_admin", "role:admin", "Administrators."),
    policy.RuleDefault(
        "admin_or_service", "role:admin or role:service", "Administrators and services."
    ),
    policy.RuleDefault(
        "project_member", "role:member and project_id:%(project_id)s", "Members of the project."
    ),
    policy.RuleDefault(
        "project_reader", "role:reader and project_id:%(project_id)s", "Readers of the project."
    ),
    policy.RuleDefault("admin_or_owner", "rule:context_is_admin or rule:project_member"),
    policy.RuleDefault("admin_or_owner_or_service", "rule:admin_or_service or rule:project_member"),
    policy.RuleDefault(
        "admin_or_reader_or_service", "rule:admin_or_owner_or_service or rule:project_reader"
    ),
]

WRITE = "rule:admin_or_owner"
READ = "rule:admin_or_reader_or_service"

#: rule -> (check string, method, path) of every API operation
OPERATIONS: dict[str, tuple[str, str, str]] = {
    "backups:get_all": (READ, "GET", "/v2/{project_id}/backups"),
    "backups:create": ("rule:admin_or_owner_or_service", "POST", "/v2/{project_id}/backups"),
    "backups:get": (READ, "GET", "/v2/{project_id}/backups/{backup_id}"),
    "backups:update": (
        "rule:admin_or_owner_or_service",
        "PATCH",
        "/v2/{project_id}/backups/{backup_id}",
    ),
    "backups:replace": ("rule:admin_or_owner_or_service", "PUT", "/v1/backups/{backup_id}"),
    "backups:delete": (
        "rule:admin_or_owner_or_service",
        "DELETE",
        "/v2/{project_id}/backups/{backup_id}",
    ),
    "clients:get_all": (READ, "GET", "/v2/{project_id}/clients"),
    "clients:create": (WRITE, "POST", "/v2/{project_id}/clients"),
    "clients:create_central": ("rule:admin_or_service", "POST", "/v2/{project_id}/clients"),
    "clients:get": (READ, "GET", "/v2/{project_id}/clients/{client_id}"),
    "clients:delete": (WRITE, "DELETE", "/v2/{project_id}/clients/{client_id}"),
    "jobs:get_all": (READ, "GET", "/v2/{project_id}/jobs"),
    "jobs:get_all_projects": ("rule:admin_or_service", "GET", "/v2/{project_id}/jobs"),
    "jobs:create": (WRITE, "POST", "/v2/{project_id}/jobs"),
    "jobs:get": (READ, "GET", "/v2/{project_id}/jobs/{job_id}"),
    "jobs:update": (WRITE, "PATCH", "/v2/{project_id}/jobs/{job_id}"),
    "jobs:replace": (WRITE, "POST", "/v2/{project_id}/jobs/{job_id}"),
    "jobs:delete": (WRITE, "DELETE", "/v2/{project_id}/jobs/{job_id}"),
    "jobs:event:create": (WRITE, "POST", "/v2/{project_id}/jobs/{job_id}/event"),
    "actions:get_all": (READ, "GET", "/v2/{project_id}/actions"),
    "actions:create": (WRITE, "POST", "/v2/{project_id}/actions"),
    "actions:get": (READ, "GET", "/v2/{project_id}/actions/{action_id}"),
    "actions:update": (WRITE, "PATCH", "/v2/{project_id}/actions/{action_id}"),
    "actions:replace": (WRITE, "POST", "/v2/{project_id}/actions/{action_id}"),
    "actions:delete": (WRITE, "DELETE", "/v2/{project_id}/actions/{action_id}"),
    "sessions:get_all": (READ, "GET", "/v2/{project_id}/sessions"),
    "sessions:create": (WRITE, "POST", "/v2/{project_id}/sessions"),
    "sessions:get": (READ, "GET", "/v2/{project_id}/sessions/{session_id}"),
    "sessions:update": (WRITE, "PATCH", "/v2/{project_id}/sessions/{session_id}"),
    "sessions:replace": (WRITE, "POST", "/v2/{project_id}/sessions/{session_id}"),
    "sessions:delete": (WRITE, "DELETE", "/v2/{project_id}/sessions/{session_id}"),
    "sessions:action:create": (WRITE, "POST", "/v2/{project_id}/sessions/{session_id}/action"),
    "sessions:job:add": (WRITE, "PUT", "/v2/{project_id}/sessions/{session_id}/jobs/{job_id}"),
    "sessions:job:remove": (
        WRITE,
        "DELETE",
        "/v2/{project_id}/sessions/{session_id}/jobs/{job_id}",
    ),
}


def list_rules() -> list[policy.RuleDefault]:
    """Return every default rule, for oslopolicy-sample-generator and the enforcer."""
    operations = [
        policy.DocumentedRuleDefault(
            name=name,
            check_str=check,
            description=f"{method} {path}",
            operations=[{"method": method, "path": path}],
            scope_types=PROJECT,
        )
        for name, (check, method, path) in OPERATIONS.items()
    ]
    return [*BASE_RULES, *operations]


def rule_names() -> frozenset[str]:
    return frozenset(OPERATIONS)


class Policy:
    """Authorizes callers with oslo.policy; unknown rules are refused."""

    #: seconds a decision is remembered before the policy file is looked at again
    CACHE_SECONDS = 5.0

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(list_rules())
        self._decisions: dict[tuple[str, str, str, frozenset[str], str], bool] = {}
        self._decided_since = time.monotonic()

    def load(self) -> None:
        """Read the policy file now, so that a broken one stops the service at start.

        Raises on unreadable YAML and on rules that refer to undefined rules.
        """
        self._enforcer.load_rules(force_reload=True)
        if not self._enforcer.check_rules(raise_on_violation=True):
            raise ValueError("the policy rules are invalid")

    def authorize(self, rule: str, identity: Identity, project_id: str) -> None:
        """Raise Forbidden unless ``identity`` may do ``rule`` on ``project_id``'s resources."""
        if rule not in OPERATIONS:
            raise Forbidden(f"No policy rule {rule}.")
        if not self.allows(rule, identity, project_id):
            raise Forbidden(f"Policy does not allow {rule} on project {project_id}.")

    def allows(self, rule: str, identity: Identity, project_id: str) -> bool:
        """Decide, remembering decisions briefly: they depend only on these inputs.

        NOTE: oslo.policy looks at the policy file on every decision; remembering them
        for a few seconds keeps file changes effective without that cost per request.
        """
        now = time.monotonic()
        if now - self._decided_since > self.CACHE_SECONDS:
            self._decisions = {}
            self._decided_since = now
        key = (rule, identity.user_id, identity.project_id, identity.roles, project_id)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(rule, identity, project_id)
            if len(self._decisions) < 10_000:
                self._decisions[key] = decision
        return decision

    def _decide(self, rule: str, identity: Identity, project_id: str) -> bool:
        credentials = {
            "user_id": identity.user_id,
            "project_id": identity.project_id,
            "roles": sorted(identity.roles),
            "system_scope": None,
        }
        return bool(self._enforcer.enforce(rule, {"project_id": project_id}, credentials))


def sample_enforcer() -> policy.Enforcer:
    """The enforcer oslopolicy-policy-generator and oslopolicy-list-redundant use."""
    conf = cfg.ConfigOpts()
    conf([], project="freezer-api")
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(list_rules())
    return enforcer
