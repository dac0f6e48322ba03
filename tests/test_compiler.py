"""engine.compiler through engine.load: which names a template may use, and a clean compile."""

from __future__ import annotations

import gc
import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import ScenarioErrors
from engine.load import check_file, compile_file

Problems = Callable[[str], list[str]]
UNDEFINED_HINT = "define it under vars:, save it in an earlier step, or assign it with set:"


@pytest.fixture
def problems(tmp_path: Path) -> Problems:
    """``problems(yaml)`` -> every problem of that scenario as ``line:col: message (hint)``."""

    def check(text: str) -> list[str]:
        path = tmp_path / "scenario.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return [str(error).removeprefix(f"{path}:") for error in check_file(path)]

    return check


def undefined(line: int, col: int, name: str, hint: str = UNDEFINED_HINT) -> str:
    return f"{line}:{col}: undefined variable '{name}' ({hint})"


def later(line: int, col: int, name: str, defined_at: int) -> str:
    hint = f"it is defined later, at line {defined_at}: vars and steps run in order, so define it before this use"
    return undefined(line, col, name, hint)


def other_journey(line: int, col: int, name: str, journey: str) -> str:
    hint = f"it is saved in journey '{journey}', and journeys do not share values: save it in on_start to share it"
    return undefined(line, col, name, hint)


VALID = """
version: 1
name: shop
host: "{{ env('SCENARIO_TEST_HOST', 'http://127.0.0.1:8080') }}"
vars:
  password: secret
  greeting: "hello {{ password }}"
  ids: [1, 2, 3]
defaults:
  headers: {X-Greeting: "{{ greeting }}"}
  timeout: 5s
faker: {seed: 3}
users:
  Buyer:
    weight: 3
    wait: {between: [1, 2]}
    on_start:
      - post: /login
        json: {username: "{{ fake.user_name() }}", password: "{{ password }}"}
        save: {token: $.token}
      - headers: {Authorization: "Bearer {{ token }}"}
    journeys:
      buy:
        steps:
          - get: /items
            params: {id: "{{ choice(ids) }}"}
            save:
              item_id: "$[0].id"
              etag: {header: ETag, default: "{{ uuid() }}"}
          - set: {quantity: "{{ randint(1, 5) }}", double: "{{ quantity * 2 }}"}
          - post: /cart
            json: {item_id: "{{ item_id }}", quantity: "{{ double }}"}
            expect:
              status: 201
              json: {"$.items[0].item_id": "{{ item_id }}"}
              body_contains: "{{ item_id }}"
          - log: "bought {{ item_id }} with {{ token }}"
    on_stop:
      - post: /logout
        headers: {X-Token: "{{ token }}"}
journeys:
  Browse:
    steps:
      - get: "/items/{{ range(3) | first }}"
        auth: ["{{ password }}", "x"]
        body: "{{ now('%Y') }}"
"""


def test_valid_file_compiles_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(VALID, encoding="utf-8")
    assert check_file(path) == []
    program, digest = compile_file(path)
    assert len(digest) == 16 and digest == compile_file(path)[1]  # stable for the same files
    path.write_text(VALID + "\n# edited\n", encoding="utf-8")
    assert compile_file(path)[1] != digest  # and different when a file changes
    path.write_text(VALID, encoding="utf-8")
    assert program.host == "http://127.0.0.1:8080"
    assert [p.persona.name for p in program.personas] == ["Buyer", "Browse"]
    buyer = program.personas[0]
    assert [j.journey.name for j in buyer.journeys] == ["buy"]
    assert len(buyer.on_start) == 2 and len(buyer.journeys[0].steps) == 4 and len(buyer.on_stop) == 1
    scope = program.new_scope()
    assert scope["greeting"] == "hello secret"
    assert scope["ids"] == [1, 2, 3]
    assert "fake" in scope  # the scenario uses fake, so it is built


def test_host_env_is_rendered_at_load_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENARIO_TEST_HOST", "http://example.test:9")
    path = tmp_path / "shop.yaml"
    path.write_text(VALID, encoding="utf-8")
    program, _ = compile_file(path)
    assert program.host == "http://example.test:9"


def test_compile_file_raises_every_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        'version: 1\njourneys:\n  a:\n    steps:\n      - get: "/{{ x }}/{{ y }}"\n        save: {z: "$["}\n'
    )
    with pytest.raises(ScenarioErrors) as caught:
        compile_file(path)
    assert [e.message for e in caught.value.errors] == [
        "undefined variable 'x'",
        "undefined variable 'y'",
        "invalid JSONPath '$[': Parse error near the end of string!",
    ]


# -- vars --------------------------------------------------------------------------------------------


def test_a_var_may_use_an_earlier_var_but_not_a_later_one(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        vars:
          a: 1
          b: "{{ a + c }}"
          c: 2
          d: "{{ c }}"
        journeys:
          j: {steps: [{get: /}]}
        """
    ) == [later(4, 6, "c", 5)]


def test_a_var_cannot_use_itself(problems: Problems) -> None:
    assert problems("version: 1\nvars:\n  a: '{{ a }}'\njourneys: {j: {steps: [{get: /}]}}\n") == [later(3, 6, "a", 3)]


def test_vars_are_visible_everywhere_after_them(problems: Problems) -> None:
    assert (
        problems(
            """
            version: 1
            vars: {base: /api, n: 2}
            users:
              U:
                on_start: [{get: "{{ base }}/login"}]
                on_stop: [{get: "{{ base }}/logout"}]
                journeys:
                  j: {steps: [{get: "{{ base }}/{{ n }}"}, {log: "{{ n }}"}]}
            journeys:
              solo: {steps: [{get: "{{ base }}"}]}
            """
        )
        == []
    )


def test_host_cannot_use_vars(problems: Problems) -> None:
    hint = "host is rendered once at load time, before vars: it can only use env() and the other built-ins"
    assert problems(
        """
        version: 1
        host: "{{ base }}"
        vars: {base: "http://x"}
        journeys: {j: {steps: [{get: /}]}}
        """
    ) == [undefined(2, 7, "base", hint)]


# -- saves and sets ------------------------------------------------------------------------------------


def test_a_save_is_visible_only_after_its_step(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        journeys:
          j:
            steps:
              - get: "/a/{{ id }}"
              - get: "/b/{{ id }}"
                save: {id: $.id}
              - get: "/c/{{ id }}"
        """
    ) == [later(5, 14, "id", 7), later(6, 14, "id", 7)]


def test_set_names_are_visible_after_them_in_order(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        journeys:
          j:
            steps:
              - log: "{{ total }}"
              - set:
                  price: 3
                  total: "{{ price * count }}"
                  count: 2
              - log: "{{ price }} {{ total }} {{ count }}"
        """
    ) == [later(5, 14, "total", 8), later(8, 18, "count", 9)]


def test_on_start_saves_are_visible_in_journeys_and_on_stop(problems: Problems) -> None:
    assert (
        problems(
            """
            version: 1
            users:
              U:
                on_start:
                  - post: /login
                    save: {token: $.token}
                  - set: {session: "{{ token }}"}
                on_stop:
                  - post: /logout
                    headers: {Authorization: "{{ token }} {{ session }}"}
                journeys:
                  a: {steps: [{get: "/a/{{ token }}"}]}
                  b: {steps: [{log: "{{ session }}"}]}
            journeys:
              Solo:
                on_start: [{get: /login, save: {sid: {cookie: sid}}}]
                steps: [{get: "/s/{{ sid }}"}]
                on_stop: [{get: "/bye/{{ sid }}"}]
            """
        )
        == []
    )


def test_a_journeys_saves_are_not_visible_in_another_journey_nor_in_on_stop(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        users:
          U:
            on_stop:
              - get: "/bye/{{ cart }}"
            journeys:
              fill:
                steps:
                  - post: /cart
                    save: {cart: $.id}
              pay:
                steps:
                  - post: "/pay/{{ cart }}"
        """
    ) == [other_journey(5, 14, "cart", "fill"), other_journey(13, 19, "cart", "fill")]


def test_users_do_not_share_saves(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        users:
          A:
            on_start: [{post: /login, save: {token: $.t}}]
            journeys: {j: {steps: [{get: /}]}}
          B:
            journeys: {j: {steps: [{get: "/{{ token }}"}]}}
        """
    ) == [undefined(7, 34, "token")]


def test_a_step_cannot_use_what_it_saves_itself(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        journeys:
          j:
            steps:
              - get: "/items/{{ id }}"
                save: {id: $.id}
        """
    ) == [later(5, 14, "id", 6)]


def test_typo_gets_did_you_mean(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        vars: {product_id: 1}
        journeys: {j: {steps: [{get: "/p/{{ prodct_id }}"}]}}
        """
    ) == [undefined(3, 30, "prodct_id", "did you mean 'product_id'?")]


@pytest.mark.parametrize(
    "step",
    [
        '{get: /, params: {q: "{{ nope }}"}}',
        '{get: /, headers: {X: "{{ nope }}"}}',
        '{post: /, json: {a: [1, "{{ nope }}"]}}',
        '{post: /, form: {a: "{{ nope }}"}}',
        '{post: /, body: "{{ nope }}"}',
        '{get: /, auth: ["{{ nope }}", x]}',
        '{get: /, expect: {json: {"$.a": "{{ nope }}"}}}',
        '{get: /, expect: {json: {"$.a": {gt: "{{ nope }}"}}}}',
        '{get: /, expect: {headers: {X: "{{ nope }}"}}}',
        '{get: /, expect: {body_contains: [a, "{{ nope }}"]}}',
        '{get: /, save: {a: {header: X, default: "{{ nope }}"}}}',
        '{headers: {X: "{{ nope }}"}}',
        '{set: {a: "{{ nope }}"}}',
        '{log: "{{ nope }}"}',
    ],
)
def test_every_templated_field_is_checked_at_its_exact_value(problems: Problems, step: str) -> None:
    text = f"version: 1\njourneys:\n  j:\n    steps:\n      - {step}\n"
    col = len("      - ") + step.index('"{{ nope') + 1  # the opening quote of the templated string
    assert problems(text) == [undefined(5, col, "nope")]


# -- default headers -------------------------------------------------------------------------------


def test_default_headers_may_use_vars_but_not_saves(problems: Problems) -> None:
    hint = (
        "it is saved by the step at line 10, but defaults.headers can only use vars: "
        "send this header with a headers: step after that step"
    )
    assert problems(
        """
        version: 1
        vars: {app: shop}
        defaults:
          headers: {X-App: "{{ app }}", Authorization: "Bearer {{ token }}", X-Other: "{{ unknown }}"}
        users:
          U:
            on_start:
              - post: /login
                save:
                  token: $.token
            journeys: {j: {steps: [{get: /}]}}
        """
    ) == [undefined(4, 48, "token", hint), undefined(4, 79, "unknown")]


# -- built-ins -----------------------------------------------------------------------------------------


def test_builtin_names_are_never_flagged(problems: Problems) -> None:
    assert (
        problems(
            """
            version: 1
            vars:
              a: "{{ env('HOME', '/') }} {{ uuid() }} {{ randint(1, 2) }} {{ random() }} {{ choice([1]) }}"
              b: "{{ now() }} {{ now('%Y') }} {{ fake.name() }} {{ range(2) | list }} {{ dict(x=1) }}"
              c: "{{ lipsum(1) }} {{ cycler(1, 2).next() }} {{ joiner(',')() }} {{ namespace(x=1).x }}"
            journeys:
              j: {steps: [{log: "{{ uuid() }} {{ fake.email() }}"}]}
            """
        )
        == []
    )


def test_response_names_are_not_template_names(problems: Problems) -> None:
    # Inside templates, the previous response is not a variable: save what you need.
    assert problems('version: 1\njourneys: {j: {steps: [{get: /}, {log: "{{ status }}"}]}}\n') == [
        undefined(2, 40, "status")
    ]


def test_a_schema_error_does_not_hide_undefined_variables(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        journeys:
          j:
            weight: many
            steps:
              - get: "/{{ nope }}"
        """
    ) == ["4:13: journeys.j.weight: expected an integer, got a string", undefined(6, 14, "nope")]


def test_with_schema_errors_a_name_that_a_left_out_step_may_define_is_not_reported(problems: Problems) -> None:
    # The first step is not built (unknown key), so the token it saves would look undefined.
    assert problems(
        """
        version: 1
        journeys:
          j:
            steps:
              - post: /login
                bogus: 1
                save: {token: $.token}
              - get: "/me?t={{ token }}&u={{ user }}"
        """
    ) == ["6:9: journeys.j.steps[0]: unknown key 'bogus'", undefined(8, 14, "user")]


def test_names_are_not_checked_when_an_include_failed(problems: Problems) -> None:
    # Its vars are unknown: only the missing file is reported.
    found = problems(
        """
        version: 1
        include: [gone.yaml]
        journeys:
          j:
            steps:
              - get: "/{{ from_the_include }}"
        """
    )
    assert len(found) == 1 and "included file not found" in found[0]


def test_template_syntax_errors_are_reported_even_with_schema_errors(problems: Problems) -> None:
    assert problems(
        """
        version: 1
        journeys:
          j:
            weight: many
            steps:
              - get: "/{{ nope"
        """
    ) == [
        "4:13: journeys.j.weight: expected an integer, got a string",
        "6:14: template syntax error: unexpected end of template, expected 'end of print statement'.",
    ]


def test_a_templated_request_name_is_refused_at_load(problems: Problems) -> None:
    hint = "write a fixed name, or leave name out for the path with each {{ x }} shown as {x}"
    assert problems(
        """
        version: 1
        vars: {id: 3}
        journeys:
          j:
            steps:
              - get: /items/{{ id }}
                name: "item {{ id }}"
              - poll:
                  get: /jobs/{{ id }}
                  name: "{% if id %}job{% endif %}"
                  until: {status: 200}
        """
    ) == [
        f"7:15: name: is a fixed row in Locust's statistics, not a template ({hint})",
        f"10:17: name: is a fixed row in Locust's statistics, not a template ({hint})",
    ]


def test_a_load_runs_no_garbage_collection_and_leaves_it_on(tmp_path: Path) -> None:
    """Loading is linear in the scenario's size: no cyclic collection walks the objects a load makes."""
    from bench.compare import generated_scenario
    from engine.load import check, compile_file

    path = tmp_path / "big.yaml"
    path.write_text(generated_scenario(journeys=5, steps=100), encoding="utf-8")
    collections: list[int] = []

    stages = {"compose", "compile_composed", "build", "compile_scenario"}

    def seen(phase: str, info: dict[str, int]) -> None:
        # (the collection that the end of a load lets happen at once is fine: it frees what the load left)
        if phase == "start" and any(frame.function in stages for frame in inspect.stack()):
            collections.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        compile_file(path)
        assert check(path) == ([], None)
    finally:
        gc.callbacks.remove(seen)
    assert collections == []
    assert gc.isenabled()
