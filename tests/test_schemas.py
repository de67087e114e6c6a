# SPDX-License-Identifier: Apache-2.0
"""The fast schema check never passes a document jsonschema refuses."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from freezer_api.errors import InvalidDocument
from freezer_api.service import schemas

SCHEMAS = {
    name: value
    for name, value in vars(schemas).items()
    if name.isupper() and isinstance(value, dict) and "type" in value
}
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    2**63,
    "",
    "a/b",
    "x" * 300,
    "ünïcode_host-1",
    "host.example.org",
    [],
    ["a", 1],
    {},
    {"nested": {"deeper": [1, None]}},
]


def documents(schema: dict[str, Any]) -> list[Any]:
    """Each property of the schema set to every odd value, one at a time, and pairs."""
    found: list[Any] = [*ODD_VALUES, {"unknown": 1}]
    names = list(schema.get("properties", {})) + list(schema.get("required", []))
    for name, value in itertools.product(names, ODD_VALUES):
        found.append({name: value})
        found.append({**{other: "x" for other in names}, name: value})
    return found


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_fast_check_agrees_with_jsonschema(name):
    schema = SCHEMAS[name]
    reference = Draft202012Validator(schema)
    validator = schemas.Validator(schema, name)
    passed = 0
    for document in documents(schema):
        if reference.is_valid(document):
            validator.check(document)
            passed += 1
        else:
            with pytest.raises(InvalidDocument):
                validator.check(document)
    assert passed < len(documents(schema))
