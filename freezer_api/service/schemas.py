# SPDX-License-Identifier: Apache-2.0
"""JSON Schemas of the documents clients send, declared once as data."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from freezer_api.errors import InvalidDocument

Schema = dict[str, Any]

#: Longest id or name stored in an indexed column.
MAX_ID = 255
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
STRINGS: Schema = {"type": "array", "items": STRING}
OBJECT: Schema = {"type": "object"}


def nullable(schema: Schema) -> Schema:
    """``schema``, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def shape(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with ``required`` keys (and maybe ``optional`` ones), open to others."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def listing(key: str, item: Schema, **others: Schema) -> Schema:
    """``{key: [item, ...], ...others}``: the shape of a list answer."""
    return shape({key: {"type": "array", "items": item}, **others})


#: A piece of a seed backup_id: it must stay addressable in a URL path.
ID_PART: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": "^[^/]+$"}

#: The seed README's backup_metadata; the five parts of backup_id are required.
BACKUP_V1: Schema = {
    "type": "object",
    "required": ["container", "host_name", "backup_name", "timestamp", "level"],
    "properties": {
        "container": ID_PART,
        "host_name": ID_PART,
        "backup_name": ID_PART,
        "timestamp": {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT},
        "level": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
        "backup_session": INTEGER,
        "max_level": INTEGER,
        "mode": STRING,
        "fs_real_path": STRING,
        "vol_snap_path": STRING,
        "total_broken_links": INTEGER,
        "total_fs_files": INTEGER,
        "total_directories": INTEGER,
        "backup_size_uncompressed": INTEGER,
        "backup_size_compressed": INTEGER,
        "total_backup_session_size": INTEGER,
        "compression_alg": STRING,
        "encrypted": BOOLEAN,
        "client_os": STRING,
        "broken_links": STRINGS,
        "excluded_files": STRINGS,
        "cli": STRING,
        "version": STRING,
    },
    "additionalProperties": True,
}


class Validator:
    """Checks documents against one schema and explains the first problem found.

    NOTE: fastjsonschema compiles the schema to Python and passes a valid document
    several times faster than jsonschema walks it; jsonschema still has the last word on
    every document fastjsonschema refuses, and explains the problem.
    """

    def __init__(self, schema: Schema, what: str) -> None:
        self._validator, self._passes = _compiled(json.dumps(schema, sort_keys=True))
        self._what = what

    def check(self, document: Any) -> None:
        """Raise ``InvalidDocument`` naming the offending field when ``document`` is invalid."""
        try:
            self._passes(document)
            return
        except fastjsonschema.JsonSchemaValueException:
            pass
        error = best_match(self._validator.iter_errors(document))
        if error is not None:
            raise InvalidDocument(f"Invalid {self._what}: {describe(error)}")


@functools.cache
def _compiled(schema_text: str) -> tuple[Draft202012Validator, Callable[[Any], Any]]:
    """Check and compile a schema once per process, whatever builds a Validator of it.

    NOTE: checking and compiling the dozen schemas costs 0.3 s; an app (each test
    builds one) would pay it every time.
    """
    schema = json.loads(schema_text)
    Draft202012Validator.check_schema(schema)
    passes = fastjsonschema.compile(
        {"$schema": "http://json-schema.org/draft-07/schema#", **schema},
        use_default=False,
        use_formats=False,
    )
    return Draft202012Validator(schema), passes


def describe(error: ValidationError) -> str:
    """Say what is wrong and where, without echoing a large value back."""
    where = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "type":
        message = f"must be of type {error.validator_value}"
    elif error.validator == "pattern" and error.validator_value == ID_PART["pattern"]:
        message = "must not contain '/'"
    else:
        message = error.message
        if len(message) > 300:
            message = message[:300] + "..."
    return f"{where}: {message}" if where else message


# -- v2 documents (CONTRACT.md section 3) -----------------------------------------------

NAME: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_ID}
#: client-chosen ids of jobs, actions and sessions
DOC_ID: Schema = {"type": "string", "pattern": r"^[\w-]+$", "maxLength": MAX_ID}
BACKUP_STATUSES = ["creating", "available", "error", "deleting", "deleted"]
#: A client id names a scheduler in URLs (``/clients/{client_id}``) and in job searches:
#: dot-separated labels of letters, digits, ``_`` and ``-``. The freezerclient default is
#: ``<project_id>_<socket.gethostname()>``, and real host names carry underscores
#: (``test-hostname_19544``), which freezer-api 19.0.0 accepts; ``/``, ``%``, spaces and
#: other characters that would not survive a URL path are refused.
CLIENT_ID: Schema = {
    "type": "string",
    "pattern": r"^[\w-]+(?:\.[\w-]+)*$",
    "minLength": 1,
    "maxLength": MAX_ID,
}
#: A host name is shown, searched and stored, never routed on: any non-empty name.
HOSTNAME: Schema = NAME

BACKUP: Schema = {
    "type": "object",
    "required": ["backup_name"],
    "properties": {
        "backup_name": NAME,
        "status": {"enum": BACKUP_STATUSES},
        "container": {"type": ["string", "null"], "minLength": 1, "maxLength": MAX_ID},
        "hostname": {"type": ["string", "null"], "minLength": 1, "maxLength": MAX_ID},
        "time_stamp": {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT},
        "curr_backup_level": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
        "job_id": {"type": ["string", "null"], "maxLength": MAX_ID},
    },
    # NOTE: a backup being created, failed or deleted may lack its container and host.
    "if": {
        "not": {
            "required": ["status"],
            "properties": {"status": {"enum": ["creating", "error", "deleting"]}},
        }
    },
    "then": {
        "required": ["container", "hostname"],
        "properties": {"container": NAME, "hostname": NAME},
    },
    "additionalProperties": True,
}

BACKUP_PATCH: Schema = {
    "type": "object",
    "properties": {
        "status": {"enum": BACKUP_STATUSES},
        "backup_metadata": {"type": "object"},
    },
}

CAPABILITIES = {
    "supported_actions": ["backup", "restore", "info", "admin", "exec"],
    "supported_modes": [
        "fs",
        "mongo",
        "mysql",
        "sqlserver",
        "cinder",
        "glance",
        "cindernative",
        "nova",
    ],
    "supported_storages": ["local", "swift", "ssh", "s3", "ftp", "ftps"],
    "supported_engines": ["tar", "rsync", "rsyncv2", "nova", "osbrick", "glance"],
}

CLIENT: Schema = {
    "type": "object",
    "required": ["client_id"],
    "properties": {
        "client_id": CLIENT_ID,
        "hostname": HOSTNAME,
        "description": {"type": ["string", "null"], "maxLength": 4096},
        "uuid": {"type": "string", "pattern": r"^[\w-]+$", "maxLength": MAX_ID},
        "is_central": BOOLEAN,
        **{
            name: {"type": "array", "items": {"enum": values}}
            for name, values in CAPABILITIES.items()
        },
    },
    "additionalProperties": True,
}

ACTION_NAMES = ["backup", "restore", "info", "admin", "exec"]
MODES = ["fs", "mongo", "mysql", "sqlserver", "cinder", "glance", "cindernative", "nova", None]
OPTIONAL_STRING: Schema = {"type": ["string", "null"]}

FREEZER_ACTION: Schema = {
    "type": "object",
    "properties": {
        "action": {"enum": ACTION_NAMES},
        "mode": {"enum": MODES},
        "backup_name": {"type": ["string", "null"], "maxLength": MAX_ID},
        "path_to_backup": OPTIONAL_STRING,
        "container": OPTIONAL_STRING,
        "restore_abs_path": OPTIONAL_STRING,
        "cindernative_freezer_only": {"type": ["boolean", "null"]},
        "storage": OPTIONAL_STRING,
        "engine_name": OPTIONAL_STRING,
        "mandatory": BOOLEAN,
    },
    "additionalProperties": True,
}

#: an action, standalone or as a step of a job
ACTION_PROPERTIES: Schema = {
    "action_id": DOC_ID,
    "freezer_action": FREEZER_ACTION,
    "max_retries": {"type": "integer", "minimum": 0},
    "max_retries_interval": {"type": "integer", "minimum": 0},
    "mandatory": BOOLEAN,
}

ACTION: Schema = {
    "type": "object",
    "required": ["freezer_action"],
    "properties": ACTION_PROPERTIES,
    "additionalProperties": True,
}

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"
JOB_SCHEDULE: Schema = {
    "type": "object",
    "properties": {
        "time_created": INTEGER,
        "time_started": INTEGER,
        "time_ended": INTEGER,
        "current_pid": INTEGER,
        "event": {"enum": ["", "stop", "start", "abort", "remove"]},
        "status": {
            "enum": ["", "completed", "stop", "scheduled", "running", "aborting", "removed"]
        },
        "result": {"enum": ["", "success", "fail", "aborted"]},
        "schedule_date": {"type": "string", "pattern": _ISO_DATE},
        "schedule_start_date": {"type": "string", "pattern": _ISO_DATE},
        "schedule_end_date": {"type": "string", "pattern": _ISO_DATE},
        "schedule_interval": {
            "type": "string",
            "pattern": r"^(continuous|[0-9]+ +(weeks|days|hours|minutes|seconds))$",
        },
        "schedule_year": {"type": "string", "pattern": r"^\d{4}$"},
        **{
            f"schedule_{unit}": STRING
            for unit in ("month", "day", "week", "day_of_week", "hour", "minute", "second")
        },
    },
    "additionalProperties": False,
}

JOB_ACTION: Schema = {
    "type": "object",
    "properties": ACTION_PROPERTIES,
    "anyOf": [{"required": ["freezer_action"]}, {"required": ["action_id"]}],
    "additionalProperties": True,
}

JOB: Schema = {
    "type": "object",
    "required": ["job_actions", "client_id"],
    "properties": {
        "job_id": DOC_ID,
        "client_id": CLIENT_ID,
        "job_actions": {"type": "array", "items": JOB_ACTION},
        "job_schedule": JOB_SCHEDULE,
        "session_id": {"type": ["string", "null"], "pattern": r"^[\w-]*$", "maxLength": MAX_ID},
        "session_tag": INTEGER,
        "session_name": OPTIONAL_STRING,
        "description": {"type": ["string", "null"], "maxLength": 4096},
        "action_defaults": {"type": "object"},
    },
    "additionalProperties": False,
}

JOB_PATCH: Schema = {**JOB, "required": []}

SESSION: Schema = {
    "type": "object",
    "required": ["schedule"],
    "properties": {
        "schedule": JOB_SCHEDULE,
        "session_tag": INTEGER,
        "hold_off": {"type": "integer", "minimum": 0},
        "description": {"type": ["string", "null"], "maxLength": 4096},
    },
    "additionalProperties": True,
}

SESSION_PATCH: Schema = {**SESSION, "required": []}

#: A freshness objective: which backup sets (any of the names; none: every set) and how old
#: their last restorable backup (and the level 0 it rests on) may be.
OBJECTIVE: Schema = {
    "type": "object",
    "required": ["max_age_seconds"],
    "properties": {
        "objective_id": ID_PART,
        "selector": {
            "type": "object",
            "properties": {
                "hostname": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
                "backup_name": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
                "container": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
            },
            "additionalProperties": False,
        },
        "max_age_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
        "max_level0_age_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_INT},
        "description": {"type": "string", "maxLength": 4096},
    },
    "additionalProperties": False,
}
