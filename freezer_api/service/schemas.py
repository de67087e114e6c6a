# SPDX-License-Identifier: Apache-2.0
"""JSON Schemas of the documents clients send, declared once as data."""

from __future__ import annotations

from typing import Any

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
    """Checks documents against one schema and explains the first problem found."""

    def __init__(self, schema: Schema, what: str) -> None:
        Draft202012Validator.check_schema(schema)
        self._validator = Draft202012Validator(schema)
        self._what = what

    def check(self, document: Any) -> None:
        """Raise ``InvalidDocument`` naming the offending field when ``document`` is invalid."""
        error = best_match(self._validator.iter_errors(document))
        if error is not None:
            raise InvalidDocument(f"Invalid {self._what}: {describe(error)}")


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
