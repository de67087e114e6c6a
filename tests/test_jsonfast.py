# SPDX-License-Identifier: Apache-2.0
"""JSON through orjson where it is exact, through the standard library where it is not."""

from __future__ import annotations

import orjson
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


KEY = "backup_metadata"
#: values a stored document may hold, each of which must come back exactly
AWKWARD_VALUES = [
    {"plain": "text", "n": 1, "f": 0.1, "e": 1e300, "neg": -0.0, "t": True, "z": None},
    {"unicode": "été ☃ 😀 \u2028", "escapes": 'quote " back \\ tab \t nul \u0000 bell \u0007'},
    {"nested": {"list": [[], {}, [{"a": [1, 2.5, "x"]}]], "empty": ""}},
    {"big": 2**64 - 1, "small": -(2**63)},
    {},
    [1, "list", None],
    "a string",
    42,
]


def answer_bytes(document):
    """What an answer embedding the document's kept key is, with the key decoded."""
    return jsonfast.dumps_bytes({"id": "x", "status": document.get("status"), KEY: document[KEY]})


@pytest.mark.parametrize("value", AWKWARD_VALUES)
@pytest.mark.parametrize(
    "head", [{"status": "available"}, {"user_name": "Zoë"}, {"": ""}, {"status": "a b,c:{}"}]
)
def test_a_kept_value_is_embedded_as_the_answer_would_write_it(head, value):
    read = jsonfast.reader_keeping(KEY)
    write = jsonfast.document_writer(KEY)
    document = {**head, KEY: value}
    kept = read(write(document))
    assert type(kept[KEY]) is orjson.Fragment
    assert {name: kept[name] for name in head} == head
    assert answer_bytes(kept) == answer_bytes(document)
    # twice: the second read takes the remembered head
    assert answer_bytes(read(write(document))) == answer_bytes(document)


@pytest.mark.parametrize(
    "document",
    [
        {"status": 'with "quotes"', KEY: {"a": 1}},
        {"status": "back\\slash", KEY: {"a": 1}},
        {"status": "nul\u0000", KEY: {"a": 1}},
        {'sta"tus': "available", KEY: {"a": 1}},
        {"status": 3, KEY: {"a": 1}},
        {"status": None, KEY: {"a": 1}},
        {KEY: {"a": 1}},
        {"status": "available", "user_name": "u", KEY: {"a": 1}},
        {"status": "available", KEY: {"a": 10**25}},
        {"status": "available", KEY: {"a": 1}, "after": {"b": 2}},
        {"status": "available", "other": {KEY: {"inner": 1}, "x": "y"}, KEY: {"a": 1}},
    ],
)
def test_documents_of_any_other_layout_are_read_whole(document):
    text = jsonfast.document_writer(KEY)(document)
    read = jsonfast.reader_keeping(KEY)(text)
    assert not any(type(value) is orjson.Fragment for value in read.values())
    assert read == document


def test_the_writer_puts_the_kept_key_last_and_changes_nothing_else():
    write = jsonfast.document_writer(KEY)
    document = {KEY: {"a": 1}, "status": "available", "extra": [1]}
    assert write(document) == '{"status":"available","extra":[1],"backup_metadata":{"a":1}}'
    assert list(document) == [KEY, "status", "extra"]
    assert write({"status": "x", KEY: {}}) == '{"status":"x","backup_metadata":{}}'
    assert write({"job_id": "j", "nested": {KEY: 1, "z": 2}}) == (
        '{"job_id":"j","nested":{"backup_metadata":1,"z":2}}'
    )
    assert jsonfast.loads(write({KEY: 2**70, "s": "x"})) == {"s": "x", KEY: 2**70}


def test_text_the_writer_did_not_write_is_read_whole():
    read = jsonfast.reader_keeping(KEY)
    # a database's own rendering, the standard library's, and bytes
    assert read('{"status": "available", "backup_metadata": {"a": 1}}') == {
        "status": "available",
        KEY: {"a": 1},
    }
    assert read(b'{"status":"available","backup_metadata":{"a":1}}') == {
        "status": "available",
        KEY: {"a": 1},
    }


def test_an_answer_with_a_kept_value_and_a_huge_integer_is_written_exactly():
    # orjson cannot write the integer, so the standard library writes the whole answer
    read = jsonfast.reader_keeping(KEY)
    kept = read(jsonfast.document_writer(KEY)({"status": "available", KEY: {"a": "é", "f": 0.5}}))
    answer = {"items": [{"n": 2**70}, kept]}
    assert jsonfast.loads(jsonfast.dumps_bytes(answer)) == {
        "items": [{"n": 2**70}, {"status": "available", KEY: {"a": "é", "f": 0.5}}]
    }


@pytest.mark.parametrize(
    ("document", "said"),
    [
        ({"a": ["x", {"b": "nul \u0000"}]}, "U+0000 (NUL)"),
        ({"a": {"key \u0000": 1}}, "U+0000 (NUL)"),
        ({"a": "half \ud800 pair"}, "a lone surrogate (U+D800-U+DFFF)"),
        ({"big": 2**70, "a": ["lone \udfff"]}, "a lone surrogate (U+D800-U+DFFF)"),
        ({"big": 2**70, "a": "fine"}, None),
        ({"text": "a backslash, then u0000: \\u0000", "pair": "😀 \U0001f600"}, None),
        ("plain", None),
    ],
)
def test_unstorable_names_text_no_engine_is_asked_to_store(document, said):
    assert jsonfast.unstorable(document) == said
