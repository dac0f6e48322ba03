"""Users that never change their variables share one dict of them; every other user has its own."""

from __future__ import annotations

from typing import Any

import pytest

from engine import lifecycle

SCENARIO = """
version: 1
defaults: {{client: {client}}}
vars: {{greeting: hello, count: 2}}
users:
  Reader:
    journeys:
      j:
        steps:
          - set: {{greeting: changed, mine: "{{{{ greeting }}}}"}}
          - get: /echo?g={{{{ greeting }}}}&c={{{{ count }}}}
            name: Echo
            expect: {{json: {{"$.args.g[0]": changed, "$.args.c[0]": "2"}}}}
  Starter:
    on_start:
      - set: {{greeting: started}}
    journeys:
      j:
        steps:
          - get: /echo?g={{{{ greeting }}}}
            name: Started
            expect: {{json: {{"$.args.g[0]": started}}}}
"""


@pytest.mark.parametrize("client", ["http", "fast"])
def test_readers_share_their_variables_and_a_journey_changes_only_its_copy(harness: Any, client: str) -> None:
    h = harness(SCENARIO.format(client=client))
    first, second = h.user("Reader"), h.user("Reader")
    assert type(first).shares_vars and first.vars is second.vars
    h.journey(first, times=2)
    h.journey(second)
    assert first.vars["greeting"] == "hello" and "mine" not in first.vars  # the journey set its own copy
    assert h.requests("Echo") == 3 and h.errors() == []


@pytest.mark.parametrize("client", ["http", "fast"])
def test_a_persona_with_on_start_keeps_a_dict_per_user(harness: Any, client: str) -> None:
    h = harness(SCENARIO.format(client=client))
    first, second = h.user("Starter"), h.user("Starter")
    assert not type(first).shares_vars and first.vars is not second.vars
    h.journey(first)
    assert first.vars["greeting"] == "started" and h.errors() == []
    reader = h.user("Reader")
    assert reader.vars["greeting"] == "hello"  # on_start changed the starter's own dict only


def test_templated_vars_and_the_setup_user_are_never_shared(harness: Any) -> None:
    h = harness(
        """
        version: 1
        vars: {id: "{{ uuid() }}"}
        journeys:
          j: {steps: [{get: /echo}]}
        """
    )
    first, second = h.user(), h.user()
    assert not type(first).shares_vars and first.vars["id"] != second.vars["id"]
    runner = lifecycle.runner_user(first.program, h.env)
    assert not runner.shares_vars and runner.vars is not first.vars


def test_the_shared_dict_follows_the_setup_values(harness: Any) -> None:
    h = harness(
        """
        version: 1
        journeys:
          j: {steps: [{get: /echo}]}
        """
    )
    first = h.user()
    program = first.program
    program.setup_values.update({"token": "t1"})  # what setup saves, when it runs after a user was made
    second = h.user()
    assert second.vars is not first.vars and second.vars["token"] == "t1" and "token" not in first.vars
    assert h.user().vars is second.vars
