"""engine.jsonpaths: simple paths are plain indexing, the others go through jsonpath-ng."""

from __future__ import annotations

from typing import Any

import pytest
from jsonpath_ng.ext import parse as parse_ext

from engine.jsonpaths import JsonPath, JsonPathError

DOC: dict[str, Any] = {
    "token": "t-1",
    "user": {"id": 7, "roles": ["admin", "buyer"], "address": None},
    "items": [
        {"id": 101, "name": "Lamp", "price": 20, "tags": ["home"]},
        {"id": 102, "name": "Novel", "price": 9, "tags": []},
        {"id": 103, "name": "Mug", "price": 12, "tags": ["home", "kitchen"]},
    ],
    "odd key": {"a-b": 1, "0": "zero"},
    "text": "abc",
    "empty": [],
}


@pytest.mark.parametrize(
    ("path", "keys", "found"),
    [
        ("$", (), [DOC]),
        ("$.token", ("token",), ["t-1"]),
        ("$.user.id", ("user", "id"), [7]),
        ("$.user.address", ("user", "address"), [None]),  # null is a value, not "missing"
        ("$.user.roles", ("user", "roles"), [["admin", "buyer"]]),
        ("$.items[0].id", ("items", 0, "id"), [101]),
        ("$.items[-1].name", ("items", -1, "name"), ["Mug"]),
        ("$.items[-3].name", ("items", -3, "name"), ["Lamp"]),
        ("$['odd key']['a-b']", ("odd key", "a-b"), [1]),
        ('$["odd key"]["0"]', ("odd key", "0"), ["zero"]),
        ("$['odd key'].a-b", ("odd key", "a-b"), [1]),
        ("$.items[1].tags", ("items", 1, "tags"), [[]]),
    ],
)
def test_simple_paths_use_plain_indexing(path: str, keys: tuple[Any, ...], found: list[Any]) -> None:
    compiled = JsonPath(path)
    assert compiled._keys == keys
    assert compiled._expr is None  # jsonpath-ng is not involved
    assert not compiled.multi
    assert compiled.find(DOC) == found
    assert compiled.text == path


@pytest.mark.parametrize(
    "path",
    [
        "$.missing",
        "$.user.missing",
        "$.items[3]",
        "$.items[-4]",
        "$.items.id",  # a key on a list
        "$.user[0]",  # an index on a mapping
        "$['odd key'][0]",  # an int index is not the string key "0"
        "$.text[0]",  # strings are not indexed
        "$.token.length",
        "$.empty[0]",
        "$.user.address.street",  # below null
    ],
)
def test_missing_keys_and_wrong_container_types_give_nothing(path: str) -> None:
    compiled = JsonPath(path)
    assert compiled._keys is not None
    assert compiled.find(DOC) == []


def test_simple_path_on_a_non_container_document() -> None:
    assert JsonPath("$.a").find("plain text") == []
    assert JsonPath("$[0]").find(None) == []
    assert JsonPath("$").find(3) == [3]


@pytest.mark.parametrize(
    "path",
    ["$.token", "$.user.roles[1]", "$.items[-1].tags[0]", "$['odd key']['0']", "$.items.id", "$.text[0]", "$.nope.x"],
)
def test_simple_paths_agree_with_jsonpath_ng(path: str) -> None:
    assert JsonPath(path).find(DOC) == [match.value for match in parse_ext(path).find(DOC)]


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("$.items[*].id", [101, 102, 103]),  # wildcard index
        ("$.user.*", [7, ["admin", "buyer"], None]),  # wildcard field
        ("$..price", [20, 9, 12]),  # descendants
        ("$.items[0:2].name", ["Lamp", "Novel"]),  # slice
        ("$.items[1:].id", [102, 103]),
        ("$.items[?(@.price > 10)].name", ["Lamp", "Mug"]),  # filter
        ("$.items[?price < 10].id", [102]),
        ("$.user['id','address']", [7, None]),  # union of fields
        ("$.items[0,2].id", [101, 103]),  # union of indices
        ("$.items[*].tags[*]", ["home", "home", "kitchen"]),
        ("$.items[?(@.price > 100)].id", []),  # a multi path that matches nothing is an empty list
    ],
)
def test_multi_paths(path: str, found: list[Any]) -> None:
    compiled = JsonPath(path)
    plain = all(part == "[*]" or not set(part) & set("?:,.*@") for part in path[1:].replace("[*]", ".[*]").split("."))
    assert (compiled._keys is not None) == (plain and ".." not in path)  # [*] steps: plain indexing, no jsonpath-ng
    assert compiled.multi
    assert compiled.find(DOC) == found
    assert found == [match.value for match in parse_ext(path).find(DOC)]  # the same answer as jsonpath-ng


def test_complex_single_value_path_is_not_multi() -> None:
    compiled = JsonPath('$."odd key"')  # not in the simple syntax, but names one value
    assert compiled._keys is None
    assert not compiled.multi
    assert compiled.find(DOC) == [DOC["odd key"]]


@pytest.mark.parametrize("path", ["$.items[", "$[?(", "$.a[1:x]", "$..", "$.items[?(@.price >]"])
def test_invalid_paths_raise_with_the_path_in_the_message(path: str) -> None:
    with pytest.raises(JsonPathError) as caught:
        JsonPath(path)
    assert str(caught.value).startswith(f"invalid JSONPath '{path}': ")


@pytest.mark.parametrize("path", ["token", "", "items[0]", ".token"])
def test_paths_must_start_with_dollar(path: str) -> None:
    with pytest.raises(JsonPathError) as caught:
        JsonPath(path)
    assert str(caught.value) == f"invalid JSONPath '{path}': it must start with $"


def test_json_path_error_is_a_value_error() -> None:
    assert issubclass(JsonPathError, ValueError)


def test_a_compiled_path_is_reusable_across_documents() -> None:
    compiled = JsonPath("$.items[*].id")
    assert compiled.find(DOC) == [101, 102, 103]
    assert compiled.find({"items": [{"id": 1}]}) == [1]
    assert compiled.find({"items": []}) == []


MIXED: list[Any] = [
    {"id": 1, "name": "a"},
    {"name": "no id"},
    "text",
    None,
    7,
    [{"id": 9}],
    {"id": None},
    {"id": {"deep": True}},
]


@pytest.mark.parametrize("path", ["$[*].id", "$[*].name", "$.id", "$.name.x", "$[*].id.deep", "$[*][*].id"])
@pytest.mark.parametrize(
    "document",
    [MIXED, MIXED[:1], [MIXED[0], MIXED[6]], [], {"id": 3, "name": {"x": 4}}, "text", None, 5, [[1, 2]]],
    ids=["mixed", "clean", "null-valued", "empty", "object", "string", "null", "number", "nested"],
)
def test_the_fast_paths_agree_with_jsonpath_ng_on_every_shape(path: str, document: Any) -> None:
    """Names only (``$.a.b``) and ``$[*].name`` are plain indexing that falls back on the first miss."""
    assert JsonPath(path).find(document) == [match.value for match in parse_ext(path).find(document)]
