"""Control flow: ``if`` (guards and blocks), ``loop``, ``choose``, ``poll`` and ``use`` + ``fragments``.

Real Locust users against the real target API (``tests/target.py``) on both
clients; outcomes are read from Locust's statistics. Load-time problems are
read from ``engine.load.check_file`` as the exact ``file:line:col: message (hint)``.
"""

from __future__ import annotations

import json
import logging
import textwrap
import time
from pathlib import Path

import pytest
from runtime_support import CLIENTS, Pauses, counts, messages, occurrences, scenario

from engine.load import check_file

POLL_NOT_READY = "poll: still not $.ready: expected == true"
SOME_PATHS = (
    "it is defined at line {line} on some paths only, in a branch of an if or a choose or in a loop "
    "that may not run: define it on every path, or before the block"
)


def journeys(client: str, top: str = "", **steps: str) -> str:
    """One user ``U`` with one journey per keyword (its steps as YAML text); ``top``: extra top-level YAML."""
    parts = ["version: 1", f"defaults: {{client: {client}}}"]
    if top:
        parts.append(textwrap.dedent(top).strip("\n"))
    parts += ["users:", "  U:", "    journeys:"]
    for name, text in steps.items():
        parts += [f"      {name}:", "        steps:", textwrap.indent(textwrap.dedent(text).strip("\n"), " " * 10)]
    return "\n".join(parts) + "\n"


def line_of(text: str, marker: str) -> int:
    """The line (from 1) of the scenario file written from ``text`` where ``marker`` first appears."""
    lines = textwrap.dedent(text).lstrip("\n").splitlines()
    return next(number for number, line in enumerate(lines, 1) if marker in line)


def problems(tmp_path: Path, text: str) -> tuple[str, list[str]]:
    """Write ``text`` as a scenario file; (its path, every load-time problem as ``str(error)``)."""
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path), [str(error) for error in check_file(path)]


# -- if ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_if_guards_a_request_step_and_else_runs_instead(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/101
              name: guard true
              if: "{{ shown }}"
            - get: /items/102
              name: guard false
              if: "{{ hidden }}"
            - get: /items/101
              name: guard true, else unused
              if: "{{ shown }}"
              else:
                - get: /items/102
                  name: else never
            - get: /items/102
              name: guard false, else used
              if: "{{ hidden }}"
              else:
                - get: /items/103
                  name: else runs
                  expect: {json: {$.id: 103}}
                - get: /health
                  name: else runs too
            - get: /health
              name: after
            """,
            client,
            top="vars: {shown: true, hidden: false}",
        )
    )
    h.journey(h.user(), times=2)
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "guard true"): (2, 0),
        ("GET", "guard true, else unused"): (2, 0),
        ("GET", "else runs"): (2, 0),
        ("GET", "else runs too"): (2, 0),
        ("GET", "after"): (2, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_if_guards_think_set_log_use_and_loop_steps(harness, client, caplog, monkeypatch):
    h = harness(
        scenario(
            """
            - think: 1
              if: "{{ hidden }}"
              else:
                - think: 0.05
            - set: {x: 1}
              if: "{{ hidden }}"
              else:
                - set: {x: 2}
            - set: {y: 7}
              if: "{{ shown }}"
              else:
                - set: {y: 8}
            - log: hidden log
              if: "{{ hidden }}"
              else:
                - log: "else log x={{ x }}"
            - log: "shown log y={{ y }}"
              if: "{{ shown }}"
            - use: ping
              with: {tag: hidden}
              if: "{{ hidden }}"
              else:
                - use: ping
                  with: {tag: else}
            - use: ping
              if: "{{ shown }}"
              with: {tag: shown}
            - loop: {count: 5}
              if: "{{ hidden }}"
              steps:
                - get: /health
                  name: hidden loop
            - loop: {count: 2}
              if: "{{ shown }}"
              steps:
                - get: /health
                  name: shown loop
            - post: /echo
              name: result
              json: {x: "{{ x }}", y: "{{ y }}", pinged: "{{ pinged }}"}
              expect: {json: {$.json: {eq: {x: 2, y: 7, pinged: shown}}}}
            """,
            client,
            top="""
            vars: {shown: true, hidden: false}
            fragments:
              ping:
                params: {tag: none}
                steps:
                  - get: /echo
                    name: ping
                    params: {tag: "{{ tag }}"}
                    save: {pinged: "$.args.tag[0]"}
            """,
        )
    )
    user = h.user()
    pauses = Pauses(user, monkeypatch)
    with caplog.at_level(logging.INFO, logger="engine.steps"):
        h.journey(user)
    assert pauses.requested == [0.05]  # the else think, not the guarded one
    assert [r.getMessage() for r in caplog.records if r.name == "engine.steps"] == ["else log x=2", "shown log y=7"]
    assert messages(h) == []
    assert counts(h) == {("GET", "ping"): (2, 0), ("GET", "shown loop"): (2, 0), ("POST", "result"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_if_blocks_with_then_and_else_also_nested(harness, client):
    h = harness(
        scenario(
            """
            - if: "{{ n > 1 }}"
              then:
                - get: /items/101
                  name: then 1
                - get: /items/102
                  name: then 2
              else:
                - get: /items/103
                  name: never
            - if: "{{ n > 5 }}"
              then:
                - get: /health
                  name: never
            - if: "{{ n > 5 }}"
              then: []
              else:
                - get: /health
                  name: else of n > 5
            - if: true
              then: [{get: /health, name: literal true}]
              else: [{get: /health, name: never}]
            - if: false
              then: [{get: /health, name: never}]
              else: [{get: /health, name: literal false}]
            - loop: {over: [0, 4, 9, 2], as: m}
              steps:
                - if: "{{ m > 3 }}"
                  then:
                    - if: "{{ m > 5 }}"
                      then: [{get: "/echo?m={{ m }}", name: big}]
                      else: [{get: "/echo?m={{ m }}", name: medium}]
                  else:
                    - get: /echo?m={{ m }}
                      name: small
            """,
            client,
            top="vars: {n: 3}",
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "then 1"): (1, 0),
        ("GET", "then 2"): (1, 0),
        ("GET", "else of n > 5"): (1, 0),
        ("GET", "literal true"): (1, 0),
        ("GET", "literal false"): (1, 0),
        ("GET", "big"): (1, 0),
        ("GET", "medium"): (1, 0),
        ("GET", "small"): (2, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_truthiness_of_condition_values(harness, client):
    values = [0, 1, "", "x", "false", " False ", "0", "no", "none", "true", None, [], [0], {}, {"a": 1}, 0.0, 2.5]
    values += [True, False, "{{ 'false' }}", "{{ none }}", "{{ [] }}", "{{ 'yes' }}", "{{ 3 > 2 }}"]
    truthy = [1, 3, 9, 12, 14, 16, 17, 22, 23]
    text = scenario(
        """
        - loop: {over: VALUES, as: value}
          steps:
            - if: "{{ value }}"
              then:
                - get: /echo
                  name: truthy
                  params: {i: "{{ index }}"}
                - set: {found: "{{ found + [index] }}"}
              else:
                - get: /echo
                  name: falsy
                  params: {i: "{{ index }}"}
        - post: /echo
          name: found
          json: {found: "{{ found }}"}
          expect: {json: {$.json.found: {eq: TRUTHY}}}
        """.replace("VALUES", json.dumps(values)).replace("TRUTHY", str(truthy)),
        client,
        top="vars: {found: []}",
    )
    h = harness(text)
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "truthy"): (len(truthy), 0),
        ("GET", "falsy"): (len(values) - len(truthy), 0),
        ("POST", "found"): (1, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_a_condition_that_fails_to_render_is_a_failure_that_ends_the_journey(harness, client):
    text = journeys(
        client,
        "vars: {cfg: {a: 1}}",
        block="""
        - get: /health
        - if: "{{ cfg.missing > 1 }}"
          then: [{get: /items/101, name: never}]
          else: [{get: /items/102, name: never}]
        - get: /items/103
          name: never
        """,
        guard="""
        - get: /items/101
          name: guarded
          if: "{{ cfg.gone }}"
        - get: /items/103
          name: never
        """,
    )
    h = harness(text)
    user = h.user()
    h.journey(user, "block", times=2)
    h.journey(user, "guard")
    block = f"if (scenario.yaml:{line_of(text, 'cfg.missing')})"
    guard = f"if (scenario.yaml:{line_of(text, 'name: guarded') - 1})"
    assert occurrences(h) == {
        ("IF", block, "template error: 'cfg' has no key 'missing'"): 2,
        ("IF", guard, "template error: 'cfg' has no key 'gone'"): 1,
    }
    assert counts(h) == {("GET", "/health"): (2, 0), ("IF", block): (2, 2), ("IF", guard): (1, 1)}


def test_a_condition_must_be_one_expression(tmp_path):
    path, found = problems(
        tmp_path,
        """
        version: 1
        vars: {a: 1, b: 2}
        journeys:
          j:
            steps:
              - if: plain text
                then: [{get: /a}]
              - get: /b
                if: "a is {{ a }}"
              - get: /c
                if: "{{ a }} and {{ b }}"
              - loop: {while: "{{ a }} < 3"}
                steps: [{get: /d}]
              - loop: {while: "{{ a }}{{ b }}"}
                steps: [{get: /e}]
              - get: /f
                if: "  {{ a > b }}  "
              - get: /g
                if: |
                  {{ a > b }}
              - get: /h
                if: false
        """,
    )
    shape = 'expected one {{ expression }}, e.g. "{{ quantity > 1 }}"'
    around = "a condition must be one {{ expression }}, not text around it"
    assert found == [
        f"""{path}:6:13: journeys.j.steps[0].if: {shape}, got 'plain text' (write "{{{{ plain text }}}}")""",
        f"{path}:9:13: journeys.j.steps[1].if: {shape}, got 'a is {{{{ a }}}}'",
        f"{path}:11:13: {around}",
        f"{path}:12:23: journeys.j.steps[3].loop.while: {shape}, got '{{{{ a }}}} < 3'",
        f"{path}:14:23: {around}",
    ]


def test_whitespace_around_a_condition_is_not_text(harness):
    h = harness(
        scenario(
            """
            - get: /items/101
              name: spaced
              if: "  {{ a < b }}  "
            - get: /items/102
              name: block scalar
              if: |
                {{ a > b }}
              else: [{get: /health, name: else of block scalar}]
            """,
            top="vars: {a: 1, b: 2}",
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("GET", "spaced"): (1, 0), ("GET", "else of block scalar"): (1, 0)}


def test_a_name_saved_in_one_branch_only_is_undefined_after_the_if(tmp_path):
    path, found = problems(
        tmp_path,
        """
        version: 1
        vars: {flag: true}
        journeys:
          j:
            steps:
              - if: "{{ flag }}"
                then:
                  - get: /items/101
                    save: {only_then: $.name, both: $.name}
                else:
                  - get: /items/102
                    save: {both: $.name}
              - get: /items/103
                if: "{{ flag }}"
                save: {guarded: $.name}
              - get: /items/103
                if: "{{ flag }}"
                save: {guarded_else: $.name}
                else:
                  - set: {guarded_else: none}
              - choose:
                  - steps: [{set: {picked: 1, some: 1}}]
                  - steps: [{set: {picked: 2}}]
              - loop: {count: "{{ 2 }}"}
                steps: [{set: {looped: 1}}]
              - loop: {count: 2}
                steps: [{set: {surely_looped: 1}}]
              - post: /echo
                json:
                  - "{{ both }} {{ guarded_else }} {{ picked }} {{ surely_looped }}"
                  - "{{ only_then }}"
                  - "{{ guarded }}"
                  - "{{ some }}"
                  - "{{ looped }}"
        """,
    )

    def undefined(line: int, name: str, defined_at: int) -> str:
        return f"{path}:{line}:13: undefined variable '{name}' ({SOME_PATHS.format(line=defined_at)})"

    assert found == [
        undefined(31, "only_then", 9),
        undefined(32, "guarded", 15),
        undefined(33, "some", 22),
        undefined(34, "looped", 25),
    ]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_name_saved_in_both_branches_is_known_after_the_if(harness, client):
    h = harness(
        scenario(
            """
            - if: "{{ pick_laptop }}"
              then:
                - get: /items/101
                  save: {name: $.name}
              else:
                - get: /items/102
                  save: {name: $.name}
            - post: /echo
              json: {name: "{{ name }}"}
              expect: {json: {$.json.name: "{{ expected }}"}}
            """,
            client,
            top="vars: {pick_laptop: '{{ random() < 0.5 }}', expected: \"{{ 'Laptop' if pick_laptop else 'Novel' }}\"}",
        )
    )
    for _ in range(4):
        h.journey(h.user())
    assert messages(h) == []
    table = counts(h)
    assert table.pop(("POST", "/echo")) == (4, 0)
    assert sum(requests for requests, _ in table.values()) == 4
    assert set(table) <= {("GET", "/items/101"), ("GET", "/items/102")}
    assert all(failures == 0 for _, failures in table.values())


# -- loop ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_loop_count_constant_templated_and_zero(harness, client):
    h = harness(
        scenario(
            """
            - loop: {count: 3}
              steps:
                - post: /echo
                  name: constant
                  json: {i: "{{ index }}"}
                  expect: {json: {$.json.i: "{{ index }}"}}
                - set: {seen: "{{ seen + [index] }}"}
            - loop: {count: "{{ n }}", index: round}
              steps:
                - get: /health
                  name: templated
                - set: {seen: "{{ seen + [round * 10] }}"}
            - loop: {count: "3"}
              steps: [{get: /health, name: text count}]
            - loop: {count: 0}
              steps: [{get: /health, name: never}]
            - loop: {count: "{{ n - 2 }}"}
              steps: [{get: /health, name: never}]
            - post: /echo
              name: seen
              json: {seen: "{{ seen }}"}
              expect: {json: {$.json.seen: {eq: [0, 1, 2, 0, 10]}}}
            """,
            client,
            top="vars: {n: 2, seen: []}",
        )
    )
    h.journey(h.user(), times=2)
    assert messages(h) == []
    assert counts(h) == {
        ("POST", "constant"): (6, 0),
        ("GET", "templated"): (4, 0),
        ("GET", "text count"): (6, 0),
        ("POST", "seen"): (2, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_loop_over_a_list_with_as_and_index(harness, client):
    h = harness(
        scenario(
            """
            - loop: {over: "{{ ids }}"}
              steps:
                - get: /items/{{ item }}
                  expect: {json: {$.id: "{{ item }}"}}
                - set: {seen: "{{ seen + [[index, item]] }}"}
            - loop: {over: [a, b], as: letter, index: position}
              steps:
                - post: /echo
                  name: letters
                  json: {letter: "{{ letter }}", position: "{{ position }}"}
                  expect: {json: {$.json.letter: "{{ letter }}", $.json.position: "{{ position }}"}}
                - set: {seen: "{{ seen + [[position, letter]] }}"}
            - loop: {over: "{{ [] }}"}
              steps: [{get: /health, name: never}]
            - post: /echo
              name: seen
              json: {seen: "{{ seen }}"}
              expect: {json: {$.json.seen: {eq: [[0, 101], [1, 102], [2, 103], [0, a], [1, b]]}}}
            """,
            client,
            top="vars: {ids: [101, 102, 103], seen: []}",
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("GET", "/items/{item}"): (3, 0), ("POST", "letters"): (2, 0), ("POST", "seen"): (1, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_loop_while_runs_until_the_condition_becomes_false(harness, client):
    h = harness(
        scenario(
            """
            - loop: {while: "{{ counter < 3 }}"}
              steps:
                - get: /items/101
                  name: round
                - set: {counter: "{{ counter + 1 }}", rounds: "{{ index + 1 }}"}
            - loop: {while: "{{ counter > 100 }}"}
              steps: [{get: /health, name: never}]
            - post: /echo
              json: {counter: "{{ counter }}", rounds: "{{ rounds }}"}
              expect: {json: {$.json: {eq: {counter: 3, rounds: 3}}}}
            """,
            client,
            top="vars: {counter: 0, rounds: 0}",
        )
    )
    h.journey(h.user(), times=2)
    assert messages(h) == []
    assert counts(h) == {("GET", "round"): (6, 0), ("POST", "/echo"): (2, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_loop_bounds_while_still_true_and_over_too_long(harness, client):
    text = journeys(
        client,
        "vars: {five: [1, 2, 3, 4, 5]}",
        still_true="""
        - loop: {while: "{{ true }}", max: 4}
          steps: [{get: /health, name: while round}]
        - get: /health
          name: never
        """,
        too_long="""
        - loop: {over: "{{ five }}", max: 4}
          steps: [{get: /health, name: never}]
        - get: /health
          name: never
        """,
        just_fits="""
        - loop: {over: "{{ five }}", max: 5}
          steps: [{get: /health, name: over round}]
        """,
    )
    h = harness(text)
    user = h.user()
    h.journey(user, "still_true", times=2)
    h.journey(user, "too_long")
    h.journey(user, "just_fits")
    still_true = f"loop (scenario.yaml:{line_of(text, 'max: 4}')})"
    too_long = f"loop (scenario.yaml:{line_of(text, '{{ five }}')})"
    assert occurrences(h) == {
        ("LOOP", still_true, "loop while: still true after 4 rounds"): 2,
        ("LOOP", too_long, "loop over: more than 4 items (raise max)"): 1,
    }
    assert counts(h) == {
        ("GET", "while round"): (8, 0),
        ("LOOP", still_true): (2, 2),
        ("LOOP", too_long): (1, 1),
        ("GET", "over round"): (5, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_loop_count_not_a_whole_number_and_over_not_a_list(harness, client):
    bad = {
        "count_float": ("count", "{{ half }}"),
        "count_negative": ("count", "{{ minus }}"),
        "count_word": ("count", "{{ word }}"),
        "count_bool": ("count", "{{ flag }}"),
        "count_none": ("count", "{{ none }}"),
        "over_mapping": ("over", "{{ cfg }}"),
        "over_text": ("over", "{{ word }}"),
        "over_number": ("over", "{{ minus }}"),
    }
    text = journeys(
        client,
        "vars: {half: 2.5, minus: -1, word: three, flag: true, cfg: {a: 1}}",
        **{
            name: f"""
            - loop: {{{kind}: "{value}"}}  # {name}
              steps: [{{get: /health, name: never}}]
            - get: /health
              name: never
            """
            for name, (kind, value) in bad.items()
        },
    )
    h = harness(text)
    user = h.user()
    for name in bad:
        h.journey(user, name)
    labels = {name: f"loop (scenario.yaml:{line_of(text, f'# {name}')})" for name in bad}
    expected = {
        name: "loop count is not a whole number" if kind == "count" else "loop over: the value is not a list"
        for name, (kind, _) in bad.items()
    }
    assert occurrences(h) == {("LOOP", labels[name], expected[name]): 1 for name in bad}
    assert counts(h) == {("LOOP", labels[name]): (1, 1) for name in bad}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_failed_step_inside_a_loop_ends_the_journey(harness, client):
    text = journeys(
        client,
        stop="""
        - loop: {over: [101, 999, 103]}
          steps:
            - get: /items/{{ item }}
            - get: /health
              name: "after item"
        - get: /health
          name: after loop
        """,
        go_on="""
        - loop: {over: [101, 999, 103]}
          steps:
            - get: /items/{{ item }}
              name: continued
              on_failure: continue
        - get: /health
          name: after continued loop
        """,
    )
    h = harness(text)
    user = h.user()
    h.journey(user, "stop", times=2)
    h.journey(user, "go_on")
    assert occurrences(h) == {
        ("GET", "/items/{item}", "status 404, status < 400"): 2,
        ("GET", "continued", "status 404, status < 400"): 1,
    }
    assert counts(h) == {
        ("GET", "/items/{item}"): (4, 2),
        ("GET", "after item"): (2, 0),
        ("GET", "continued"): (3, 1),
        ("GET", "after continued loop"): (1, 0),
    }


# -- choose --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_choose_respects_weights_never_picks_weight_zero_and_an_empty_branch_does_nothing(harness, client):
    h = harness(
        scenario(
            """
            - choose:
                - weight: 3
                  steps: [{get: /items/101, name: three}]
                - description: the default weight is 1
                  steps: [{get: /items/102, name: one}]
                - weight: 0
                  steps: [{get: /health, name: never}]
                - weight: 1
                  description: do nothing
                  steps: []
            - get: /health
              name: after
            """,
            client,
        )
    )
    h.journey(h.user(), times=200)
    assert messages(h) == []
    table = counts(h)
    three, one = table.pop(("GET", "three")), table.pop(("GET", "one"))
    assert table == {("GET", "after"): (200, 0)}
    empty = 200 - three[0] - one[0]
    assert three[1] == one[1] == 0
    # expected 120 / 40 / 40: each band is more than four standard deviations wide
    assert 90 <= three[0] <= 150
    assert 15 <= one[0] <= 70
    assert 15 <= empty <= 70


def test_choose_with_only_zero_weights_is_a_load_time_error(tmp_path):
    path, found = problems(
        tmp_path,
        """
        version: 1
        journeys:
          j:
            steps:
              - choose:
                  - weight: 0
                    steps: [{get: /a}]
                  - weight: 0
                    steps: []
        """,
    )
    assert found == [f"{path}:6:11: choose: every branch has weight 0"]


# -- poll ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_poll_until_met_on_the_nth_attempt_saves_from_the_final_response(harness, client):
    h = harness(
        scenario(
            """
            - set: {key: "{{ uuid() }}"}
            - poll:
                get: /countdown/{{ key }}
                params: {ready_after: 3}
                until: {json: {$.ready: true}}
                every: 0.05
                save: {attempt: $.attempt, ready: $.ready}
            - poll:
                get: /countdown/{{ key }}
                name: already ready
                until: {json: {$.attempt: {ge: 4}}}
                every: 0.05
            - post: /echo
              json: {attempt: "{{ attempt }}", ready: "{{ ready }}"}
              expect: {json: {$.json: {eq: {attempt: 3, ready: true}}}}
            """,
            client,
        )
    )
    user = h.user()
    started = time.perf_counter()
    h.journey(user, times=2)
    elapsed = time.perf_counter() - started
    assert elapsed >= 2 * 2 * 0.05  # two pauses per run (an upper bound would depend on the machine's load)
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "/countdown/{key} (poll)"): (6, 0),
        ("GET", "already ready (poll)"): (2, 0),
        ("POST", "/echo"): (2, 0),
    }


POLL_PAUSES = [
    pytest.param("every: 0.05", 4, [0.05, 0.05, 0.05], id="every"),
    pytest.param("backoff: {initial: 0.02}", 4, [0.02, 0.04, 0.08], id="backoff-default-factor"),
    pytest.param("backoff: {initial: 0.02, factor: 3, max: 0.1}", 5, [0.02, 0.06, 0.1, 0.1], id="backoff-factor-max"),
    pytest.param("backoff: {initial: 10ms, max: 30ms}", 5, [0.01, 0.02, 0.03, 0.03], id="backoff-max"),
]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("pause", "ready_after", "gaps"), POLL_PAUSES)
def test_poll_pauses_between_attempts(harness, client, pause, ready_after, gaps):
    h = harness(
        scenario(
            "- get: /health",
            client,
            on_start=f"""
            - set: {{key: "{{{{ uuid() }}}}"}}
            - poll:
                get: /countdown/{{{{ key }}}}
                params: {{ready_after: {ready_after}}}
                until: {{json: {{$.ready: true}}}}
                {pause}
                save: {{gaps: $.gaps, attempt: $.attempt}}
            """,
        )
    )
    # The pauses the poll asks for are exact; how long they take depends on the machine's load, so
    # the clocks give lower bounds only (each attempt is sent after the previous response and pause).
    user = h.user(start=False)
    requested: list[float] = []
    think = user.think

    def recording_think(seconds: float) -> None:
        requested.append(seconds)
        think(seconds)

    user.think = recording_think
    started = time.perf_counter()
    user.on_start()
    elapsed = time.perf_counter() - started
    assert user.vars["attempt"] == ready_after
    assert requested == pytest.approx(gaps)
    measured = user.vars["gaps"]  # seconds between the attempts' arrivals at the server
    assert len(measured) == len(gaps)
    for seen, wanted in zip(measured, gaps, strict=True):
        assert seen >= wanted - 0.003, (measured, gaps)
    assert elapsed >= sum(gaps) - 0.01
    assert messages(h) == []
    assert counts(h) == {("GET", "/countdown/{key} (poll)"): (ready_after, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_poll_out_of_attempts_fails_the_last_attempt_and_ends_the_journey(harness, client):
    text = journeys(
        client,
        three="""
        - set: {key: "{{ uuid() }}"}
        - poll:
            get: /countdown/{{ key }}
            name: never ready
            params: {ready_after: 100}
            until: {json: {$.ready: true}}
            every: 0.01
            max_attempts: 3
            save: {attempt: $.attempt}
        - get: /health
          name: never
        """,
        default="""
        - set: {key: "{{ uuid() }}"}
        - poll:
            get: /countdown/{{ key }}
            params: {ready_after: 100}
            until: {json: {$.ready: true}}
            every: 0.01
        - get: /health
          name: never
        """,
    )
    h = harness(text)
    user = h.user()
    h.journey(user, "three", times=2)
    h.journey(user, "default")
    assert occurrences(h) == {
        ("GET", "never ready (poll)", POLL_NOT_READY): 2,
        ("GET", "/countdown/{key} (poll)", POLL_NOT_READY): 1,
    }
    assert counts(h) == {("GET", "never ready (poll)"): (6, 2), ("GET", "/countdown/{key} (poll)"): (10, 1)}


@pytest.mark.parametrize("client", CLIENTS)
def test_poll_max_time_bounds_the_attempts(harness, client, monkeypatch):
    h = harness(
        scenario(
            """
            - set: {key: "{{ uuid() }}"}
            - poll:
                get: /countdown/{{ key }}
                params: {ready_after: 100}
                until: {json: {$.ready: true}}
                every: 0.1
                max_attempts: 100
                max_time: 0.35
            - get: /health
              name: never
            """,
            client,
        )
    )
    user = h.user()
    pauses = Pauses(user, monkeypatch)  # the poll's clock advances by its pauses only, whatever the load
    h.journey(user)
    # attempts at 0, 0.1, 0.2, 0.3 s: one more pause would pass 0.35 s
    assert pauses.requested == [0.1, 0.1, 0.1]
    assert messages(h) == [POLL_NOT_READY]
    assert counts(h) == {("GET", "/countdown/{key} (poll)"): (4, 1)}


@pytest.mark.parametrize("client", CLIENTS)
def test_poll_expect_failing_on_an_attempt_fails_the_poll_at_once(harness, client):
    text = journeys(
        client,
        expect_json="""
        - set: {key: "{{ uuid() }}"}
        - poll:
            get: /countdown/{{ key }}
            params: {ready_after: 10}
            expect: {json: {$.attempt: {lt: 3}}}
            until: {json: {$.ready: true}}
            every: 0.01
        - get: /health
          name: never
        """,
        default_status="""
        - set: {key: "{{ uuid() }}"}
        - poll:
            get: /flaky/{{ key }}
            until: {json: {$.attempt: {ge: 3}}}
            every: 0.01
        - get: /health
          name: never
        """,
        allowed_status="""
        - set: {key: "{{ uuid() }}"}
        - poll:
            get: /flaky/{{ key }}
            name: flaky allowed
            expect: {status: [200, 503]}
            until: {status: 200, json: {$.attempt: {ge: 3}}}
            every: 0.01
        - get: /health
          name: after
        """,
    )
    h = harness(text)
    user = h.user()
    for name in ("expect_json", "default_status", "allowed_status"):
        h.journey(user, name)
    assert occurrences(h) == {
        ("GET", "/countdown/{key} (poll)", "$.attempt: expected < 3"): 1,
        ("GET", "/flaky/{key} (poll)", "status 503, status < 400"): 1,
    }
    assert counts(h) == {
        ("GET", "/countdown/{key} (poll)"): (3, 1),
        ("GET", "/flaky/{key} (poll)"): (1, 1),
        ("GET", "flaky allowed (poll)"): (3, 0),
        ("GET", "after"): (1, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_poll_on_failure_continue(harness, client):
    h = harness(
        scenario(
            """
            - set: {key: "{{ uuid() }}"}
            - poll:
                get: /countdown/{{ key }}
                params: {ready_after: 100}
                until: {json: {$.ready: true}}
                every: 0.01
                max_attempts: 2
              on_failure: continue
            - get: /health
              name: after
            """,
            client,
        )
    )
    h.journey(h.user(), times=2)
    assert occurrences(h) == {("GET", "/countdown/{key} (poll)", POLL_NOT_READY): 2}
    assert counts(h) == {("GET", "/countdown/{key} (poll)"): (4, 2), ("GET", "after"): (2, 0)}


# -- use + fragments -----------------------------------------------------------------------------------------------

FRAGMENTS = """
fragments:
  login:
    description: log in and keep the token
    params: [username, password]
    steps:
      - post: /login
        json: {username: "{{ username }}", password: "{{ password }}"}
        save: {token: $.token, user_id: $.user.id}
  add_to_cart:
    params: {item_id: 101, quantity: "{{ 1 }}"}
    steps:
      - post: /cart
        headers: {Authorization: "Bearer {{ token }}"}
        json: {item_id: "{{ item_id }}", quantity: "{{ quantity }}"}
        expect: {status: 201}
        save: {cart: $.items}
  whoami:
    - get: /me
      headers: {Authorization: "Bearer {{ token }}"}
      expect: {json: {$.id: "{{ user_id }}"}}
  session:
    params: {name: ann}
    steps:
      - use: login
        with: {username: "{{ name }}", password: secret}
      - use: whoami
"""


@pytest.mark.parametrize("client", CLIENTS)
def test_use_with_required_params_defaults_and_saved_values(harness, client):
    h = harness(
        scenario(
            """
            - use: login
              with: {username: "{{ who }}", password: "{{ password }}"}
            - use: whoami
            - use: add_to_cart
            - use: add_to_cart
              with: {item_id: 103, quantity: "{{ 1 + 2 }}"}
            - post: /echo
              json: {cart: "{{ cart }}", quantity: "{{ quantity }}"}
              expect:
                json:
                  $.json.cart: {eq: [{item_id: 101, quantity: 1}, {item_id: 103, quantity: 3}]}
                  $.json.quantity: 7  # a parameter is a variable during the fragment only
            """,
            client,
            top="vars: {who: ann, password: secret, quantity: 7}\n" + FRAGMENTS,
        )
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {
        ("POST", "/login"): (1, 0),
        ("GET", "/me"): (1, 0),
        ("POST", "/cart"): (2, 0),
        ("POST", "/echo"): (1, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_nested_use_in_on_start_and_in_journeys(harness, client):
    h = harness(
        scenario(
            """
            - use: whoami
            - set: {first_id: "{{ user_id }}"}
            - use: session
              with: {name: bob}
            - post: /echo
              json: {changed: "{{ user_id != first_id }}"}
              expect: {json: {$.json.changed: true}}
            """,
            client,
            top=FRAGMENTS,
            on_start="- use: session",
        )
    )
    user = h.user()
    assert user.vars["token"].endswith("-ann")
    assert "name" not in user.vars and "username" not in user.vars  # parameters live in their fragment only
    h.journey(user, times=2)
    assert user.vars["token"].endswith("-ann")  # the journey's login was its own
    assert messages(h) == []
    assert counts(h) == {("POST", "/login"): (3, 0), ("GET", "/me"): (5, 0), ("POST", "/echo"): (2, 0)}


def test_fragment_errors_at_load_time(tmp_path):
    path, found = problems(
        tmp_path,
        """
        version: 1
        fragments:
          login:
            params: [username, password]
            steps: [{post: /login}]
          add:
            params: {quantity: 1}
            steps: [{get: /add}]
          plain:
            - get: /plain
          a: [{use: b}]
          b: [{use: a}]
          c: [{use: c}]
        journeys:
          j:
            steps:
              - use: logn
              - use: login
                with: {username: x}
              - use: add
                with: {quantty: 2}
              - use: plain
                with: {quantity: 2}
              - use: a
              - use: c
        """,
    )
    assert found == [
        f"{path}:12:7: fragment 'a' uses itself: a -> b -> a",
        f"{path}:13:7: fragment 'c' uses itself: c -> c",
        f"{path}:17:9: unknown fragment 'logn' (did you mean 'login'?)",
        f"{path}:18:9: fragment 'login' needs parameter 'password' (pass it in with:)",
        f"{path}:21:25: fragment 'add' has no parameter 'quantty' (did you mean 'quantity'?)",
        f"{path}:23:26: fragment 'plain' has no parameter 'quantity' (it takes no parameters)",
    ]


# -- everything together, spawned by Locust's runner ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_spawned_run_mixing_if_loop_choose_poll_and_use(harness, client):
    h = harness(
        """
        version: 1
        defaults: {client: CLIENT}
        vars: {ids: [101, 102, 103]}
        fragments:
          login:
            params: [username]
            steps:
              - post: /login
                json: {username: "{{ username }}", password: secret}
                save: {token: $.token, user_id: $.user.id}
              - headers: {Authorization: "Bearer {{ token }}"}
          add:
            params: {quantity: 1}
            steps:
              - post: /cart
                json: {item_id: "{{ item }}", quantity: "{{ quantity }}"}
                expect: {status: 201}
        users:
          Mixed:
            wait: {constant: 0.01}
            on_start:
              - use: login
                with: {username: "u{{ randint(1, 1000) }}"}
            journeys:
              shop:
                steps:
                  - get: /me
                    expect: {json: {$.id: "{{ user_id }}"}}
                  - loop: {over: "{{ ids }}"}
                    steps:
                      - get: /items/{{ item }}
                        expect: {json: {$.id: "{{ item }}"}}
                        save: {price: $.price}
                      - use: add
                        if: "{{ price < 100 }}"
                        with: {quantity: "{{ index + 1 }}"}
                  - choose:
                      - weight: 3
                        steps: [{get: /items, name: browse}]
                      - steps: []
                  - set: {key: "{{ uuid() }}", n: 0}
                  - poll:
                      get: /countdown/{{ key }}
                      params: {ready_after: 2}
                      until: {json: {$.ready: true}}
                      every: 0.01
                  - loop: {while: "{{ n < 2 }}"}
                    steps:
                      - set: {n: "{{ n + 1 }}"}
                      - get: /health
        """.replace("CLIENT", client)
    )
    h.run(users=4, seconds=1.5)
    assert messages(h) == []
    table = counts(h)
    assert set(table) == {
        ("POST", "/login"),
        ("GET", "/me"),
        ("GET", "/items/{item}"),
        ("POST", "/cart"),
        ("GET", "browse"),
        ("GET", "/countdown/{key} (poll)"),
        ("GET", "/health"),
    }
    assert all(failures == 0 for _, failures in table.values())
    assert table[("POST", "/login")] == (4, 0)
    journeys_begun = table[("GET", "/me")][0]
    assert journeys_begun >= 4  # at least one per user (how many more depends on the machine's load)
    # per journey: 3 items, 2 of them cheap enough for the cart, 2 poll attempts, 2 while rounds;
    # a journey still running when the users stopped may have sent fewer
    for key, per_journey in (
        (("GET", "/items/{item}"), 3),
        (("POST", "/cart"), 2),
        (("GET", "/countdown/{key} (poll)"), 2),
        (("GET", "/health"), 2),
    ):
        assert per_journey * (journeys_begun - 4) <= table[key][0] <= per_journey * journeys_begun, key
    assert 0 < table[("GET", "browse")][0] <= journeys_begun
    assert h.env.stats.total.num_failures == 0
