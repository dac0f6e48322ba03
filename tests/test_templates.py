"""engine.templates: Jinja2 values compiled once (sandboxed, strict), the built-ins, stats names."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from engine.errors import ErrorSink, Position
from engine.source import parse_text
from engine.templates import (
    Constant,
    Expression,
    Joined,
    Lookup,
    Renderer,
    Templates,
    Text,
    env_var,
    has_template,
    seed_fake,
    stats_name,
)

POS = Position("t.yaml", 3, 7)


def compile_value(raw: Any, templates: Templates | None = None) -> Renderer:
    sink = ErrorSink()
    renderer = (templates or Templates()).compile(raw, POS, sink)
    assert sink.errors == []
    return renderer


def render(raw: Any, **names: Any) -> Any:
    templates = Templates()
    renderer = compile_value(raw, templates)
    return renderer.render({**templates.builtins(), **names})


# -- constants -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["/items", "", 42, 1.5, True, None, "50% off", "a } b { c"])
def test_scalars_without_template_syntax_are_constants(value: Any) -> None:
    renderer = compile_value(value)
    assert isinstance(renderer, Constant)
    assert renderer.constant
    assert renderer.names == {}
    assert renderer.render({}) == value


def test_structure_without_templates_is_the_same_object() -> None:
    raw = {"user": {"name": "ann", "tags": ["a", "b"]}, "n": 3}
    renderer = compile_value(raw)
    assert isinstance(renderer, Constant)
    assert renderer.render({}) is raw


def test_structure_with_one_template_renders_item_by_item_and_keeps_constants() -> None:
    raw = {"id": "{{ n }}", "static": {"a": [1, 2]}, "list": ["x", "{{ n + 1 }}"]}
    renderer = compile_value(raw)
    assert not renderer.constant
    assert renderer.render({"n": 5}) == {"id": 5, "static": {"a": [1, 2]}, "list": ["x", 6]}


# -- expressions keep their type; text is text -----------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 41 + 1 }}", 42),
        ("{{ [1, 'a'] }}", [1, "a"]),
        ("{{ {'a': 1} }}", {"a": 1}),
        ("{{ none }}", None),
        ("{{ true }}", True),
        ("{{ 1.5 }}", 1.5),
        ("{{- 7 -}}", 7),
        ("  {{ 7 }}  ", "  7  "),
    ],
)
def test_exactly_one_expression_keeps_its_type(template: str, expected: Any) -> None:
    value = render(template)
    assert value == expected
    assert type(value) is type(expected)


def test_expression_returns_the_variable_itself() -> None:
    items = [{"id": 1}, {"id": 2}]
    renderer = compile_value("{{ items }}")
    assert isinstance(renderer, Lookup)  # a plain name: a dict lookup, no Jinja context
    assert renderer.render({"items": items}) is items
    assert isinstance(compile_value("{{ items[0] }}"), Expression)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("/items/{{ id }}", "/items/7"),
        ("{{ id }}{{ id }}", "77"),
        ("{{ id }} ", "7 "),
        ("{% if id > 5 %}big{% else %}small{% endif %}", "big"),
        ("n={{ none }}", "n=None"),
    ],
)
def test_mixed_text_renders_to_a_string(template: str, expected: str) -> None:
    renderer = compile_value(template)
    assert isinstance(renderer, (Text, Joined))  # Joined: text and plain names, without a Jinja context
    assert renderer.render({"id": 7}) == expected


@pytest.mark.parametrize(
    "value",
    [
        "text",
        'a {b} "c"',
        7,
        -0.5,
        1e16,
        2.0,
        True,
        False,
        None,
        [1, "a"],
        {"k": [1, None]},
        "",
        "{{ x }}",
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    ],
)
def test_joined_text_prints_values_as_jinja_does(value: Any) -> None:
    template = '{"id": {{ v }}, "n": "{{ w }}"} {x} {{ v }}}'
    renderer = compile_value(template)
    assert isinstance(renderer, Joined)
    jinja = Templates().env.from_string(template)
    assert renderer.render({"v": value, "w": 3}) == jinja.render(v=value, w=3)


# -- strict undefined ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "kind"),
    [
        ("{{ missing }}", Lookup),
        ("/a/{{ missing }}", Joined),
        ("{{ user.missing }}", Expression),
        ("x{{ user.missing }}", Text),
    ],
)
def test_missing_names_raise_in_text_and_expression(template: str, kind: type[Renderer]) -> None:
    renderer = compile_value(template)
    assert isinstance(renderer, kind)
    with pytest.raises(UndefinedError, match="missing"):
        renderer.render({"user": {}})


@pytest.mark.parametrize(
    "template",
    [
        "{{ [user.missing] }}",
        "{{ {'a': [1, user.missing]} }}",
        "{{ (user.missing, 1) }}",
        "{{ [1] | map(attribute='missing') | list }}",
    ],
)
def test_missing_names_inside_a_built_container_raise(template: str) -> None:
    renderer = compile_value(template)
    with pytest.raises(UndefinedError, match="missing"):
        renderer.render({"user": {}})


def test_names_and_their_first_position_are_collected() -> None:
    data = parse_text('a: "{{ x }}"\nb: ["{{ y }}", "{{ x ~ z }}"]\n', "n.yaml")
    renderer = Templates().compile(data, Position("n.yaml", 1, 1), ErrorSink())
    assert renderer.names == {
        "x": Position("n.yaml", 1, 4),
        "y": Position("n.yaml", 2, 5),
        "z": Position("n.yaml", 2, 16),
    }


def test_names_defined_inside_the_template_are_not_collected() -> None:
    renderer = compile_value("{% set n = 1 %}{% for i in items %}{{ i }}{{ n }}{% endfor %}")
    assert set(renderer.names) == {"items"}


# -- syntax errors ---------------------------------------------------------------------------------


def test_syntax_error_goes_to_the_sink_at_the_line_within_the_value() -> None:
    sink = ErrorSink()
    renderer = Templates().compile("first line\nsecond {{ oops", POS, sink)
    assert [str(e) for e in sink.errors] == [
        "t.yaml:4:7: template syntax error: unexpected end of template, expected 'end of print statement'."
    ]
    assert renderer.render({}) == "first line\nsecond {{ oops"  # left as written


def test_has_template() -> None:
    assert has_template("{{ a }}") and has_template("{% if a %}{% endif %}") and has_template("{# c #}")
    assert not has_template("{ a }") and not has_template("plain")


# -- built-ins -------------------------------------------------------------------------------------


def test_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_TEST_TOKEN", "s3cret")
    assert render("{{ env('SCENARIO_TEST_TOKEN') }}") == "s3cret"
    assert render("{{ env('SCENARIO_TEST_TOKEN', 'fallback') }}") == "s3cret"


def test_env_default_when_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCENARIO_TEST_TOKEN", raising=False)
    assert render("{{ env('SCENARIO_TEST_TOKEN', 'fallback') }}") == "fallback"
    assert render("{{ env('SCENARIO_TEST_TOKEN', none) }}") is None
    assert render("{{ env('SCENARIO_TEST_TOKEN', 8080) }}") == 8080


def test_env_without_default_when_not_set_raises_a_clear_lookup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCENARIO_TEST_TOKEN", raising=False)
    message = "environment variable SCENARIO_TEST_TOKEN is not set (give env() a default)"
    with pytest.raises(LookupError) as caught:
        render("{{ env('SCENARIO_TEST_TOKEN') }}")
    assert str(caught.value) == message
    with pytest.raises(LookupError, match=re.escape(message)):
        env_var("SCENARIO_TEST_TOKEN")


def test_uuid_is_a_fresh_version_4_uuid() -> None:
    first, second = render("{{ uuid() }}"), render("{{ uuid() }}")
    assert isinstance(first, str) and uuid.UUID(first).version == 4
    assert first != second


def test_randint_random_and_choice() -> None:
    numbers = {render("{{ randint(1, 3) }}") for _ in range(60)}
    assert numbers <= {1, 2, 3} and len(numbers) > 1
    value = render("{{ random() }}")
    assert isinstance(value, float) and 0 <= value < 1
    assert render("{{ choice(['a', 'b']) }}") in ("a", "b")
    assert render("{{ choice(items) }}", items=(5,)) == 5
    assert render("{{ choice(range(3, 4)) }}") == 3


def test_now_is_utc_iso_or_formatted() -> None:
    before = datetime.now(timezone.utc)
    value = render("{{ now() }}")
    moment = datetime.fromisoformat(value)
    offset = moment.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert before <= moment <= datetime.now(timezone.utc)
    assert render("{{ now('%Y') }}") == str(datetime.now(timezone.utc).year)


def test_builtin_names_include_jinja_globals_engine_functions_and_fake() -> None:
    names = Templates().builtin_names()
    assert {"env", "uuid", "randint", "random", "choice", "now", "fake", "range", "dict"} <= names


def test_fake_is_only_built_when_a_template_uses_it() -> None:
    templates = Templates()
    compile_value({"a": "{{ uuid() }}", "b": "plain"}, templates)
    assert not templates.uses_fake
    assert "fake" not in templates.builtins()
    renderer = compile_value("{{ fake.first_name() }}", templates)
    assert templates.uses_fake
    scope = templates.builtins()
    assert "fake" in scope
    name = renderer.render(scope)
    assert isinstance(name, str) and name


def test_faker_seed_makes_fake_data_reproducible() -> None:
    def emails(seed: int | None, locale: tuple[str, ...] = ("en_US",)) -> list[str]:
        templates = Templates(locale, seed)
        renderer = compile_value("{{ fake.email() }}", templates)
        scope = templates.builtins()
        return [renderer.render(scope) for _ in range(3)]

    assert emails(7) == emails(7)
    assert emails(7) != emails(8)
    assert emails(7, ("de_DE",)) == emails(7, ("de_DE",))


def test_each_process_derives_its_own_reproducible_stream_from_the_seed() -> None:
    def stream(seed: int | None, index: int) -> list[str]:
        templates = Templates(("en_US",), seed)
        renderer = compile_value("{{ fake.uuid4() }} {{ fake.email() }}", templates)
        scope = templates.builtins()
        seed_fake(scope["fake"], seed, index)
        return [renderer.render(scope) for _ in range(50)]

    unseeded = Templates(("en_US",), 7)
    renderer = compile_value("{{ fake.uuid4() }} {{ fake.email() }}", unseeded)
    scope = unseeded.builtins()
    assert stream(7, 0) == [renderer.render(scope) for _ in range(50)]  # local or master: the seed as is
    assert stream(7, 1) == stream(7, 1)  # same seed, same process index: the same values
    assert stream(7, 2) == stream(7, 2)
    assert not set(stream(7, 1)) & set(stream(7, 2))  # each process its own values
    assert not set(stream(7, 0)) & set(stream(7, 1))
    assert stream(8, 1) != stream(7, 1)
    assert not set(stream(None, 1)) & set(stream(None, 1))  # no seed: fresh randomness every time


def test_faker_locale_is_used() -> None:
    templates = Templates(("ja_JP",), 1)
    renderer = compile_value("{{ fake.name() }}", templates)
    name = renderer.render(templates.builtins())
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", name)


# -- sandbox ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{{ ''.__class__ }}", "x{{ ''.__class__ }}", "{{ range.__globals__ }}", "{{ env.__code__ }}"],
)
def test_sandbox_blocks_unsafe_attributes_at_render(template: str) -> None:
    templates = Templates()
    renderer = compile_value(template, templates)  # compiles: the sandbox acts when it runs
    with pytest.raises(SecurityError):
        renderer.render(templates.builtins())


# -- stats names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/a/{{ id }}", "/a/{id}"),
        ("/a/{{id}}/b", "/a/{id}/b"),
        ("/a/{{ id | int }}", "/a/{id}"),
        ("/a/{{- id -}}", "/a/{id}"),
        ("/a/{{ a.b }}", "/a/{a.b}"),
        ("/a/{{ items[0].id }}?q={{ q|urlencode }}", "/a/{items[0].id}?q={q}"),
        # A block shows as its opening tag: neither branch's text (nor both run together) names the request.
        ("/a/{% if x %}x{% endif %}/c", "/a/{if x}/c"),
        ("/{% if big %}big{% else %}small{% endif %}/{{ id }}", "/{if big}/{id}"),
        ("/{%- if a -%}{% if b %}x{% endif %}{%- endif %}/z", "/{if a}/z"),
        ("/a?{% for k in ks %}{{ k }}&{% endfor %}", "/a?{for k in ks}"),
        ("/a/{% set y %}k{% endset %}b", "/a/b"),
        ("/a/{%- set y = 1 -%}b", "/a/b"),
        ("/plain", "/plain"),
        ("{{ base }}/x", "{base}/x"),
    ],
)
def test_stats_name(path: str, name: str) -> None:
    assert stats_name(path) == name
