# SPDX-License-Identifier: Apache-2.0
"""JSON through orjson where it is exact, through the standard library where it is not."""

from __future__ import annotations

import pytest

from freezer_api import jsonfast

EDGES = [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**25 + 7, -(10**25) - 7]


@pytest.mark.parametrize("number", EDGES)
def test_integers_read_back_exactly_whatever_their_size(number):
    for document in ({"n": number}, {"deep": {"list": [1.5, "x", number]}}):
        for text in (jsonfast.dumps(document), jsonfast.dumps_bytes(document)):
            read = jsonfast.loads(text)
            assert read == document
            found = read["n"] if "n" in read else read["deep"]["list"][2]
            assert type(found) is int


def test_text_looking_written_by_the_standard_library_reads_the_same():
    document = {"note": 'a "quoted": word', "n": 1, "f": 0.1}
    assert jsonfast.loads(jsonfast.dumps(document)) == document
    assert jsonfast.loads('{"n": 1, "f": 0.1}') == {"n": 1, "f": 0.1}


def test_text_rendered_by_a_database_keeps_its_integers():
    # NOTE: PostgreSQL's jsonb and MySQL's JSON come back with ": " and ", " separators
    huge = 10**25 + 7
    assert jsonfast.loads(f'{{"n": {huge}, "m": [1, {-huge}]}}') == {"n": huge, "m": [1, -huge]}
    assert jsonfast.loads(b'{"n": 18446744073709551616}') == {"n": 2**64}
    # a long string of digits is only text, and a long fraction only a float
    assert jsonfast.loads('{"id": "12345678901234567890", "f": 0.12345678901234567890}') == {
        "id": "12345678901234567890",
        "f": 0.12345678901234567890,
    }
