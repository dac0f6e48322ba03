"""engine.source: YAML -> plain data that remembers the 1-based line and column of every node."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.errors import Position, ScenarioErrors
from engine.source import MarkedDict, MarkedList, parse_text, pos_of, position_of, read_file


def parse(text: str) -> object:
    return parse_text(textwrap.dedent(text).lstrip("\n"), "s.yaml")


def at(line: int, col: int) -> Position:
    return Position("s.yaml", line, col)


def errors_of(text: str) -> list[str]:
    with pytest.raises(ScenarioErrors) as caught:
        parse(text)
    return [str(error) for error in caught.value.errors]


DOC = """
version: 1
users:
  Shopper:
    weight: 2
    journeys:
      browse:
        steps:
          - get: /items
            save: {first: "$[0].id"}
          -   think: 2
tags: [a,  b]
"""


def test_containers_are_plain_dicts_and_lists() -> None:
    data = parse(DOC)
    assert isinstance(data, MarkedDict) and isinstance(data, dict)
    assert isinstance(data["tags"], MarkedList) and isinstance(data["tags"], list)
    assert data == {
        "version": 1,
        "users": {
            "Shopper": {
                "weight": 2,
                "journeys": {"browse": {"steps": [{"get": "/items", "save": {"first": "$[0].id"}}, {"think": 2}]}},
            }
        },
        "tags": ["a", "b"],
    }


def test_positions_of_keys_values_and_items() -> None:
    data = parse(DOC)
    assert isinstance(data, MarkedDict)
    assert data.pos == at(1, 1)
    assert data.key_pos["version"] == at(1, 1)
    assert data.value_pos["version"] == at(1, 10)
    shopper = data["users"]["Shopper"]
    assert data["users"].key_pos["Shopper"] == at(3, 3)
    assert shopper.pos == at(4, 5)
    assert shopper.key_pos["weight"] == at(4, 5)
    assert shopper.value_pos["weight"] == at(4, 13)
    steps = shopper["journeys"]["browse"]["steps"]
    assert steps.pos == at(8, 11)
    assert steps.item_pos == [at(8, 13), at(10, 15)]
    save = steps[0]["save"]
    assert save.pos == at(9, 19)
    assert save.key_pos["first"] == at(9, 20)
    assert save.value_pos["first"] == at(9, 27)
    assert data["tags"].pos == at(11, 7)
    assert data["tags"].item_pos == [at(11, 8), at(11, 12)]


def test_position_of_a_path_value_or_key() -> None:
    data = parse(DOC)
    path = ["users", "Shopper", "journeys", "browse", "steps", 1, "think"]
    assert position_of(data, path) == at(10, 22)
    assert position_of(data, path, key=True) == at(10, 15)
    assert position_of(data, ["users", "Shopper", "weight"], key=True) == at(4, 5)
    assert position_of(data, []) == at(1, 1)


def test_position_of_a_path_leaving_the_data_stops_at_the_deepest_node() -> None:
    data = parse(DOC)
    assert position_of(data, ["users", "Shopper", "missing", "deeper"]) == at(4, 5)
    assert position_of(data, ["tags", 7]) == at(11, 7)
    assert position_of(data, ["tags", -1]) == at(11, 7)  # negative indexes are not positions in the file
    assert position_of(data, ["version", "below_a_scalar"]) == at(1, 10)


def test_pos_of_a_container_or_the_default_for_a_scalar() -> None:
    data = parse(DOC)
    default = Position("other", 9, 9)
    assert pos_of(data["tags"], default) == at(11, 7)
    assert pos_of(data["version"], default) == default


def test_block_scalar_value_starts_on_its_first_text_line() -> None:
    data = parse(
        """
        body: |

            first {{ a }}
            second
        folded: >
          text
        plain: x
        """
    )
    assert isinstance(data, MarkedDict)
    # Line 1 of the text is the line after "|" (here blank); the column is the text's indentation.
    assert data.value_pos["body"] == at(2, 5)
    assert data["body"] == "\nfirst {{ a }}\nsecond\n"
    assert data.value_pos["folded"] == at(6, 3)
    assert data.value_pos["plain"] == at(7, 8)


def test_anchors_and_aliases_load_the_same_value() -> None:
    data = parse(
        """
        x-headers: &common {Accept: application/json}
        first: *common
        items: &pair [1, 2]
        again: *pair
        """
    )
    assert isinstance(data, MarkedDict)
    assert data["first"] == {"Accept": "application/json"}
    assert data["again"] == [1, 2]
    assert data["again"].item_pos == [at(3, 15), at(3, 18)]  # an alias carries the anchored node's positions


def test_merge_keys_merge_and_explicit_keys_win_without_a_duplicate_error() -> None:
    data = parse(
        """
        base: &base
          timeout: 5s
          client: fast
        one:
          <<: *base
          client: http
        two:
          <<: [*base, {verify_tls: false}]
        """
    )
    assert isinstance(data, MarkedDict)
    assert data["one"] == {"timeout": "5s", "client": "http"}
    assert data["one"].key_pos["client"] == at(6, 3)  # the explicit key, not the merged one
    assert data["one"].key_pos["timeout"] == at(2, 3)  # a merged key points at where it is written
    assert data["one"].value_pos["timeout"] == at(2, 12)
    assert "<<" not in data["one"]
    assert data["two"] == {"timeout": "5s", "client": "fast", "verify_tls": False}


def test_duplicate_keys_are_reported_with_the_first_line() -> None:
    assert errors_of(
        """
        name: a
        vars:
          x: 1
          x: 2
        name: b
        """
    ) == [
        "s.yaml:4:3: duplicate key 'x' (first defined at line 3)",
        "s.yaml:5:1: duplicate key 'name' (first defined at line 1)",
    ]


def test_duplicate_explicit_key_next_to_a_merge_is_still_a_duplicate() -> None:
    assert errors_of(
        """
        base: &b {a: 1}
        other:
          <<: *b
          a: 2
          a: 3
        """
    ) == ["s.yaml:5:3: duplicate key 'a' (first defined at line 4)"]


def test_yaml_syntax_error_points_at_the_problem_and_where_the_construct_began() -> None:
    assert errors_of(
        """
        a: {b: 1
        c: 2
        """
    ) == [
        "s.yaml:2:2: YAML syntax error: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping that starts at line 1, column 4)"
    ]


def test_unclosed_quote_points_at_the_quote() -> None:
    (error,) = errors_of('a: "abc\nb: 1\n')
    assert error.startswith("s.yaml:3:1: YAML syntax error: found unexpected end of stream")
    assert error.endswith("(while scanning a quoted scalar that starts at line 1, column 4)")


def test_tab_indentation_hint() -> None:
    assert errors_of("a:\n\tb: 1\n") == [
        "s.yaml:2:1: YAML syntax error: while scanning for the next token, found character '\\t' "
        "that cannot start any token (indent with spaces: YAML does not allow tabs there)"
    ]


def test_several_documents_are_an_error() -> None:
    assert errors_of("a: 1\n---\nb: 2\n") == [
        "s.yaml:2:1: YAML syntax error: expected a single document in the stream, but found another document"
    ]


def test_python_tags_are_refused() -> None:
    assert errors_of("a: !!python/object/apply:os.getcwd []\n") == [
        "s.yaml:1:4: YAML error: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.getcwd' (scenarios are plain YAML: remove the tag)"
    ]


def test_non_scalar_keys_are_reported_at_the_key() -> None:
    assert errors_of(
        """
        ok: 1
        ? [a, b]
        : 2
        ? {c: 1}
        : 3
        """
    ) == [
        "s.yaml:2:3: a mapping key must be a plain scalar",
        "s.yaml:4:3: a mapping key must be a plain scalar",
    ]


def test_scalar_keys_of_every_kind_load() -> None:
    data = parse("1: a\n1.5: b\nnull: c\nname: d\n")
    assert data == {1: "a", 1.5: "b", None: "c", "name": "d"}


def test_empty_text_is_none_and_a_scalar_document_is_the_scalar() -> None:
    assert parse_text("", "e.yaml") is None
    assert parse_text("# just a comment\n", "e.yaml") is None
    assert parse_text("42\n", "e.yaml") == 42


def test_read_file_gives_the_file_name_in_positions(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("version: 1\n", encoding="utf-8")
    data = read_file(path)
    assert data == {"version": 1}
    assert data.value_pos["version"] == Position(str(path), 1, 10)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioErrors) as caught:
        read_file(path)
    assert [str(e) for e in caught.value.errors] == [f"{path}:1:1: file not found"]


def test_a_directory_is_not_readable(tmp_path: Path) -> None:
    with pytest.raises(ScenarioErrors) as caught:
        read_file(tmp_path)
    assert [str(e) for e in caught.value.errors] == [f"{tmp_path}:1:1: cannot read file: Is a directory"]


def test_non_utf8_file_is_reported_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\nname: éclair café\n".encode("latin-1"))
    with pytest.raises(ScenarioErrors) as caught:
        read_file(path)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:2:7: not UTF-8 text: byte 0xe9 here (save the file as UTF-8)"
    ]


def test_non_utf8_column_counts_characters_not_bytes(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_bytes("name: é".encode() + b"\xff\n")  # é is 2 bytes in UTF-8 but one column
    with pytest.raises(ScenarioErrors) as caught:
        read_file(path)
    assert str(caught.value.errors[0]).startswith(f"{path}:1:8: not UTF-8 text: byte 0xff here")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")
    assert read_file(path) == {"version": 1}


# -- hints in plain words ---------------------------------------------------------------------------

QUOTE = 'a value that starts with {{ must be quoted: "{{ base }}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Alone, YAML reads {{ x }} as a mapping in a mapping: reported at the value.
        ("a:\n  n: {{ base }}\n", ["s.yaml:2:6: YAML reads an unquoted {{ ... }} as a mapping (" + QUOTE + '")']),
        ("a:\n  - {{ base }}\n", ["s.yaml:2:5: YAML reads an unquoted {{ ... }} as a mapping (" + QUOTE + '")']),
        ("a: {X: {{ base }}}\n", ["s.yaml:1:8: YAML reads an unquoted {{ ... }} as a mapping (" + QUOTE + '")']),
        # Followed by more text, it is a syntax error: the hint quotes the whole value.
        (
            "a:\n  get: {{ base }}/items  # comment\n",
            [
                "s.yaml:2:18: YAML syntax error: expected <block end>, but found '<scalar>' "
                "(while parsing a block mapping that starts at line 2, column 3; " + QUOTE + '/items")'
            ],
        ),
        (
            "a: {% if x %}1{% endif %}\n",
            [
                "s.yaml:1:5: YAML syntax error: while scanning for the next token, found character '%' that cannot "
                'start any token (a value that starts with {% must be quoted: "{% if x %}1{% endif %}")'
            ],
        ),
    ],
)
def test_an_unquoted_template_gets_the_hint_to_quote_it(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


def test_a_quoted_template_is_a_string() -> None:
    assert parse("a: \"{{ base }}/x\"\nb: ['{{ y }}']\n") == {"a": "{{ base }}/x", "b": ["{{ y }}"]}


INDENTATION = "keys of one mapping, and the items of one list, must start in the same column"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a:\n  b:\n    - x: 1\n   - y: 2\n",
            "s.yaml:4:4: YAML syntax error: expected <block end>, but found '<block sequence start>' (while parsing "
            f"a block mapping that starts at line 2, column 3; check the indentation of line 4: {INDENTATION})",
        ),
        (
            "a:\n  b:\n    c: 1\n   d: 2\n",
            "s.yaml:4:4: YAML syntax error: expected <block end>, but found '<block mapping start>' (while parsing "
            f"a block mapping that starts at line 2, column 3; check the indentation of line 4: {INDENTATION})",
        ),
        (
            "a:\n  - get: /a\n      expect: 1\n",
            "s.yaml:3:13: YAML syntax error: mapping values are not allowed here (line 3 is indented deeper than "
            "the key before it, or a value contains ': ' and must be quoted)",
        ),
        (
            "a:\n  b: 1\n  c\n  d: 2\n",
            "s.yaml:4:3: YAML syntax error: could not find expected ':' (while scanning a simple key that starts at "
            "line 3, column 3; a line of a mapping is not 'key: value': add the ':' or check the indentation)",
        ),
    ],
)
def test_indentation_errors_get_a_hint_in_plain_words(text: str, expected: str) -> None:
    assert errors_of(text) == [expected]


def test_keys_that_yaml_reads_as_booleans_or_numbers_keep_their_spelling() -> None:
    data = parse("on: 1\nNo: 2\n1.50: 3\nname: 4\n")
    assert data.spelled == {True: "on", False: "No", 1.5: "1.50"}


def _marked(value: object) -> object:
    """A parsed document with every position in it, for comparing two parses."""
    if isinstance(value, MarkedDict):
        return (
            "map",
            value.pos,
            [(k, _marked(v), value.key_pos.get(k), value.value_pos.get(k)) for k, v in value.items()],
            getattr(value, "spelled", None),
        )
    if isinstance(value, MarkedList):
        return ("seq", value.pos, [_marked(v) for v in value], list(value.item_pos))
    return (type(value).__name__, value)


ONE_PASS_CASES = [
    "a: 1\nb: [x, 2.5, null, true, ~, 0x1F, 1_000]\nc: {d: 'q', e: \"w\"}\nf: |\n  block\n  text\n",
    "on: yes\n3: three\nnull: n\n1.5: f\n",  # keys that are not text keep their spelling
    "steps:\n  - get: /a\n    expect: {status: 200}\n  - think: 1s\n",
    "text: >\n  folded\n  lines\nn: -1.5e3\nm: [[1, [2, {x: y}]]]\n",
    "a: &x {b: 1}\nc: *x\n",  # an alias: the constructor's path
    "<<: {a: 1}\nb: 2\n",  # a merge key: the constructor's path
    "a: !!str 5\n",  # a tag: the constructor's path
]


@pytest.mark.parametrize("text", ONE_PASS_CASES)
def test_the_one_pass_construction_equals_the_constructors(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.source as source

    fast = parse_text(text, "s.yaml")

    def not_plain(*_: object) -> object:
        raise source._NotPlain

    monkeypatch.setattr(source, "_construct_plain", not_plain)
    slow = parse_text(text, "s.yaml")
    assert _marked(fast) == _marked(slow)


def test_every_shipped_file_parses_the_same_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.source as source

    root = Path(__file__).resolve().parent.parent
    files = sorted(p for folder in ("scenarios", "examples", "bench") for p in (root / folder).rglob("*.yaml"))
    one_pass = source._construct_plain
    took = []

    def spy(*args: object) -> object:
        built = one_pass(*args)  # type: ignore[arg-type]
        took.append(True)
        return built

    monkeypatch.setattr(source, "_construct_plain", spy)
    fast = [_marked(parse_text(p.read_text(encoding="utf-8"), str(p))) for p in files]
    assert len(took) > len(files) // 2  # most files take the one pass (those with aliases do not)

    def not_plain(*_: object) -> object:
        raise source._NotPlain

    monkeypatch.setattr(source, "_construct_plain", not_plain)
    slow = [_marked(parse_text(p.read_text(encoding="utf-8"), str(p))) for p in files]
    assert len(files) > 20 and repr(fast) == repr(slow)
