# SPDX-License-Identifier: Apache-2.0
"""Policy: rule names, their in-code defaults, and enforcement with oslo.policy.

The defaults are those of freezer-api 19.0.0 (member, reader, admin and service roles,
project scope) but for the ``service`` role, which gets what the freezer 19.0.0 central
scheduler does with its own token, nothing more: it registers central clients and lists every
project's jobs; everything else it does through the job owners' trusts, as the owner.
Operators override the rules in ``policy.yaml`` as usual; two lines give ``service`` back the
reach it had in 19.0.0 (``catalogue_reader`` and ``backup_writer``, see the README).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from oslo_config import cfg
from oslo_policy import policy

from freezer_api.context import Identity
from freezer_api.errors import Forbidden

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
    policy.RuleDefault(
        "admin_or_reader", "rule:admin_or_owner or rule:project_reader", "Readers and up."
    ),
    policy.RuleDefault(
        "catalogue_reader",
        "rule:admin_or_reader",
        "Who reads backups, clients, actions and sessions. freezer-api 19.0.0 also let the "
        "service role read them in every project: rule:admin_or_reader_or_service.",
    ),
    policy.RuleDefault(
        "backup_writer",
        "rule:admin_or_owner",
        "Who creates, changes and deletes backups. freezer-api 19.0.0 also let the service "
        "role do so in every project: rule:admin_or_owner_or_service.",
    ),
]

WRITE = "rule:admin_or_owner"
#: reads of every kind but jobs
READ = "rule:catalogue_reader"
#: reads of jobs: a central scheduler lists every project's jobs with its own token
READ_JOBS = "rule:admin_or_reader_or_service"
#: writes of backups
WRITE_BACKUPS = "rule:backup_writer"


def list_rules() -> list[policy.RuleDefault]:
    """Return every default rule, for oslopolicy-sample-generator and the enforcer.

    The rules of the API's operations come from its table of kinds (``api/routes.py``).
    """
    from freezer_api.api import routes  # NOTE: the routes import this module

    return [*BASE_RULES, *routes.policy_rules()]


class Policy:
    """Authorizes callers with oslo.policy; unknown rules are refused."""

    #: seconds a decision is remembered before the policy file is looked at again
    CACHE_SECONDS = 5.0

    def __init__(
        self, conf: cfg.ConfigOpts, operations: Sequence[policy.RuleDefault] | None = None
    ) -> None:
        """``operations``: the rules of the API's operations (default: ``list_rules``')."""
        self._enforcer = policy.Enforcer(conf)
        rules = list_rules() if operations is None else [*BASE_RULES, *operations]
        self._enforcer.register_defaults(rules)
        #: the rules of operations: a name outside them is never allowed
        self._operations = frozenset(rule.name for rule in rules) - {
            rule.name for rule in BASE_RULES
        }
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
        if not self.knows(rule):
            raise Forbidden(f"No policy rule {rule}.")
        if not self.allows(rule, identity, project_id):
            raise Forbidden(f"Policy does not allow {rule} on project {project_id}.")

    def knows(self, rule: str) -> bool:
        """Tell whether ``rule`` is the rule of an operation."""
        return rule in self._operations

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
