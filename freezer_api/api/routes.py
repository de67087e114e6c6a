# SPDX-License-Identifier: Apache-2.0
"""Every kind each API version serves, declared once, and what is built from the tables.

One table per API version lists its kinds: the service rules, the responses, the verbs
and their policy checks, and the sub-routes of an item. The routes, the services, the
policy rules (``policy_rules``, also what oslopolicy-sample-generator prints) and the
JSON home documents are all built from these tables, so adding a kind is one entry here,
its schema and rules in ``service/``, and its table in a migration.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import falcon
from oslo_policy import policy as oslo_policy

from freezer_api.api import monitoring, openapi, sets, views
from freezer_api.api.resources import (
    ApiVersion,
    CommandResource,
    DocumentResource,
    HomeResource,
    Kind,
    Parts,
    Rule,
    SessionJobResource,
    SubRoute,
    VersionsResource,
    View,
    project_scope,
    user_scope,
)
from freezer_api.policy import READ, READ_JOBS, WRITE, WRITE_BACKUPS
from freezer_api.service.actions import ActionRules
from freezer_api.service.backups import BackupRules, BackupV1Rules
from freezer_api.service.clients import ClientRules, ClientV1Rules
from freezer_api.service.documents import Call, DocumentService
from freezer_api.service.jobs import EVENTS, JobEvents, JobRules
from freezer_api.service.objectives import ObjectiveRules
from freezer_api.service.schemas import INTEGER, STRING, nullable, shape
from freezer_api.service.sessions import SessionActions, SessionRules
from freezer_api.storage.base import Document

ALL_VERBS = frozenset({"list", "create", "get", "patch", "replace", "delete"})


def checks(write: str = WRITE, read: str = READ) -> dict[str, str]:
    """The policy check of each verb: ``read`` reads, ``write`` writes."""
    return {verb: read if verb in {"list", "get"} else write for verb in ALL_VERBS}


def central_client_rules(body: dict[str, Any]) -> list[str]:
    """Only administrators and services register central schedulers."""
    return ["clients:create_central"] if body.get("is_central") is True else []


def job_event(kind: Kind, parts: Parts) -> Any:
    events = JobEvents(parts.storage)

    def send(call: Call, doc_id: str, body: Any, if_version: int | None) -> Document:
        return {"result": events.send(call, doc_id, body, if_version)}

    return CommandResource(kind, "jobs:event:create", send, parts)


def session_action(kind: Kind, parts: Parts) -> Any:
    actions = SessionActions(parts.storage, parts.wiring.clock)
    return CommandResource(kind, "sessions:action:create", actions.act, parts)


def session_jobs(kind: Kind, parts: Parts) -> Any:
    return SessionJobResource(kind, SessionActions(parts.storage, parts.wiring.clock), parts)


CENTRAL = Rule("clients:create_central", "rule:admin_or_service", "POST")
ALL_PROJECTS = Rule("jobs:get_all_projects", "rule:admin_or_service", "GET")
#: ``{"start": null}``: the first key names the event
EVENT_BODY = {"type": "object", "minProperties": 1, "propertyNames": {"enum": list(EVENTS)}}
JOB_EVENT = SubRoute(
    "event",
    job_event,
    (
        Rule(
            "jobs:event:create",
            WRITE,
            "POST",
            "/{id}/event",
            body=EVENT_BODY,
            answer=shape({"result": STRING}),
            status=202,
        ),
    ),
)
SESSION_RUN = shape({"job_id": STRING, "current_tag": INTEGER}, {"result": STRING})
SESSION_ACTION = SubRoute(
    "action",
    session_action,
    (
        Rule(
            "sessions:action:create",
            WRITE,
            "POST",
            "/{id}/action",
            body={
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "properties": {"start": SESSION_RUN, "end": SESSION_RUN},
                "additionalProperties": False,
            },
            answer=shape({"result": STRING, "session_tag": nullable(INTEGER)}),
            status=202,
        ),
    ),
)
SESSION_JOBS = SubRoute(
    "jobs/{job_id}",
    session_jobs,
    (
        Rule("sessions:job:add", WRITE, "PUT", "/{id}/jobs/{job_id}", status=204),
        Rule("sessions:job:remove", WRITE, "DELETE", "/{id}/jobs/{job_id}", status=204),
    ),
)

DEPENDENTS = SubRoute(
    "dependents",
    lambda kind, parts: sets.DependentsResource(parts),
    (
        Rule(
            "backups:dependents:get",
            READ,
            "GET",
            "/{id}/dependents",
            answer=sets.DependentsResource.answer,
        ),
    ),
)

v2 = functools.partial(Kind, scope_of=project_scope, replace_method="POST")
v1 = functools.partial(Kind, scope_of=user_scope, replace_method="PUT")

CLIENT_VERBS = frozenset({"list", "create", "get", "delete"})


def scheduling(version: Any) -> tuple[Kind, ...]:
    """Jobs, actions and sessions: the same in both versions (``version``: ``v1`` or ``v2``)."""
    return (
        version(
            JobRules,
            ALL_VERBS,
            views.job,
            views.id_and_version("job_id"),
            checks(read=READ_JOBS),
            all_projects_rule=ALL_PROJECTS,
            sub_routes=(JOB_EVENT,),
        ),
        version(ActionRules, ALL_VERBS, views.action, views.id_and_version("action_id"), checks()),
        version(
            SessionRules,
            ALL_VERBS,
            views.session,
            views.id_and_version("session_id"),
            checks(),
            sub_routes=(SESSION_ACTION, SESSION_JOBS),
        ),
    )


V2_KINDS = (
    v2(
        BackupRules,
        ALL_VERBS - {"replace"},
        views.backup,
        views.backup,
        checks(WRITE_BACKUPS),
        sub_routes=(DEPENDENTS,),
    ),
    v2(
        ClientRules,
        CLIENT_VERBS,
        views.client,
        views.client,
        checks(),
        reads_shared=True,
        create_rules=central_client_rules,
        rules_besides=(CENTRAL,),
    ),
    *scheduling(v2),
    v2(
        ObjectiveRules,
        ALL_VERBS,
        views.objective,
        views.id_and_version("objective_id"),
        checks(),
    ),
)

V1_KINDS = (
    v1(BackupV1Rules, ALL_VERBS, views.v1_backup, views.v1_backup, checks(WRITE_BACKUPS)),
    v1(
        ClientV1Rules,
        CLIENT_VERBS,
        views.client,
        views.client,
        checks(),
        create_rules=central_client_rules,
        rules_besides=(CENTRAL,),
    ),
    *scheduling(v1),
)

V2_VIEWS = (
    View("backup-sets", Rule("backup-sets:get_all", READ, "GET"), sets.BackupSetsResource),
    View("restore-points", Rule("restore-points:get", READ, "GET"), sets.RestorePointsResource),
    View(
        "retention/preview",
        Rule("retention:preview", READ, "POST"),
        sets.RetentionPreviewResource,
    ),
    View(
        "retention/apply",
        Rule("retention:apply", WRITE_BACKUPS, "POST"),
        sets.RetentionApplyResource,
    ),
    View("events", Rule("events:get_all", READ, "GET"), monitoring.EventsResource),
    View("compliance", Rule("compliance:get", READ, "GET"), monitoring.ComplianceResource),
)

VERSIONS = (
    ApiVersion("v2", "CURRENT", "2018-02-21T13:30:00", "/v2/{project_id}", V2_KINDS, V2_VIEWS),
    ApiVersion("v1", "SUPPORTED", "2015-03-23T13:45:00", "/v1", V1_KINDS),
)


def _operations(versions: tuple[ApiVersion, ...]) -> Iterator[tuple[str, str, str, str]]:
    """(rule, check, method, path) of every route of every version."""
    for version in versions:
        for kind in version.kinds:
            collection = f"{version.prefix}/{kind.plural}"
            item = f"{collection}/{{{kind.id_key}}}"
            for verb in sorted(kind.verbs):
                path = collection if verb in {"list", "create"} else item
                yield kind.rule(verb), kind.checks[verb], kind.method(verb), path
            for rule in kind.declared_rules():
                path = collection + rule.path.replace("{id}", f"{{{kind.id_key}}}")
                yield rule.name, rule.check, rule.method, path
        for view in version.views:
            yield view.rule.name, view.rule.check, view.rule.method, f"{version.prefix}/{view.path}"


def policy_rules(
    versions: tuple[ApiVersion, ...] = VERSIONS,
) -> list[oslo_policy.DocumentedRuleDefault]:
    """One documented rule per name, with every route it guards.

    Raises ValueError when two declarations give one rule different checks.
    """
    found: dict[str, tuple[str, list[oslo_policy.Operation]]] = {}
    for name, check, method, path in _operations(versions):
        known, operations = found.setdefault(name, (check, []))
        if known != check:
            raise ValueError(f"the rule {name} is declared as {known!r} and as {check!r}")
        operations.append({"method": method, "path": path})
    return [
        oslo_policy.DocumentedRuleDefault(
            name=name,
            check_str=check,
            description=f"{operations[0]['method']} {operations[0]['path']}",
            operations=operations,
            scope_types=["project"],
        )
        for name, (check, operations) in found.items()
    ]


def json_home(version: ApiVersion) -> dict[str, Any]:
    """Describe every kind's collection and item routes."""
    resources: dict[str, Any] = {}
    formats: dict[str, Any] = {"application/json": {}}
    prefix = version.prefix
    owner = {"project_id": "param/project_id"} if "{project_id}" in prefix else {}
    for kind in version.kinds:
        resources[f"rel/{kind.plural}"] = {
            "href-template": f"{prefix}/{kind.plural}/{{{kind.id_key}}}",
            "href-vars": {**owner, kind.id_key: f"param/{kind.id_key}"},
            "hints": {"allow": kind.methods(item=True), "formats": formats},
        }
        resources[f"rel/{kind.plural}_collection"] = {
            "href-template": f"{prefix}/{kind.plural}{{?limit,offset,marker}}",
            "href-vars": {
                **owner,
                **{name: f"param/{name}" for name in ("limit", "offset", "marker")},
            },
            "hints": {"allow": kind.methods(item=False), "formats": formats},
        }
    for view in version.views:
        resources[f"rel/{view.path.replace('-', '_')}"] = {
            "href": f"{prefix}/{view.path}",
            "href-vars": owner,
            "hints": {"allow": [view.rule.method], "formats": formats},
        }
    if version.id == "v2":
        # NOTE: Freezer's tempest suite compares this entry with 19.0.0's, byte for byte.
        resources["rel/backups"]["hints"]["allow"] = ["GET"]
    return {"resources": resources}


def add_routes(
    app: falcon.App[Any, Any], parts: Parts, versions: tuple[ApiVersion, ...] = VERSIONS
) -> None:
    """Mount the versions document, and every kind of every API version with its service."""
    app.add_route("/", VersionsResource(versions))
    for version in versions:
        app.add_route(f"/{version.id}", HomeResource(json_home(version)))
        app.add_route(f"/{version.id}/openapi.json", openapi.OpenApiResource(version))
        for kind in version.kinds:
            try:
                getattr(parts.storage, kind.plural)
            except AttributeError:
                raise ValueError(f"the storage keeps no {kind.plural}: is it migrated?") from None
            service = DocumentService(
                kind.rules.build(parts.wiring), parts.storage, parts.wiring.text_search
            )
            resource = DocumentResource(kind, service, parts)
            collection = f"{version.prefix}/{kind.plural}"
            app.add_route(collection, resource, suffix="collection")
            app.add_route(f"{collection}/{{doc_id}}", resource)
            for sub in kind.sub_routes:
                app.add_route(f"{collection}/{{doc_id}}/{sub.path}", sub.resource(kind, parts))
        for view in version.views:
            app.add_route(f"{version.prefix}/{view.path}", view.resource(parts))
