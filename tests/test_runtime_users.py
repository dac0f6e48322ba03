"""Users: vars per user, on_start / on_stop, tags, weights, wait times, client classes, faker,
and a real spawned run of the local runner."""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid

import gevent
import pytest
from faker import Faker
from locust import FastHttpUser, HttpUser
from locust.env import Environment
from runtime_support import CLIENTS, counts, messages, occurrences, scenario

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.mark.parametrize("client", CLIENTS)
def test_vars_are_rendered_once_per_user(harness, client):
    h = harness(
        scenario(
            """
            - get: /echo
              headers: {X-Rid: "{{ rid }}"}
              expect: {json: {$.headers.x-rid: "{{ first_rid }}", $.args.tag: ["{{ tag }}"]}}
              params: {tag: "{{ tag }}"}
            """,
            client,
            top="""
            vars:
              rid: "{{ uuid() }}"
              tag: "user-{{ rid[:8] }}"
              numbers: [1, "{{ 1 + 1 }}"]
            """,
            on_start="""
            - get: /echo
              headers: {X-Rid: "{{ rid }}"}
              save: {first_rid: $.headers.x-rid}
            """,
        )
    )
    first, second = h.user(), h.user()
    for user in (first, second):
        assert UUID.match(user.vars["rid"])
        assert user.vars["first_rid"] == user.vars["rid"]
        assert user.vars["tag"] == "user-" + user.vars["rid"][:8]
        assert user.vars["numbers"] == [1, 2]
    assert first.vars["rid"] != second.vars["rid"]
    h.journey(first, times=2)
    h.journey(second, times=2)
    assert messages(h) == []
    assert counts(h) == {("GET", "/echo"): (6, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_on_start_values_are_visible_in_every_journey(harness, client):
    h = harness(
        """
        version: 1
        defaults: {client: CLIENT}
        users:
          Buyer:
            on_start:
              - post: /login
                json: {username: ann, password: secret}
                save: {token: $.token, uid: $.user.id}
            journeys:
              me:
                steps:
                  - get: /me
                    headers: {Authorization: "Bearer {{ token }}"}
                    expect: {json: {$.id: "{{ uid }}"}}
              cart:
                steps:
                  - post: /cart
                    headers: {Authorization: "Bearer {{ token }}"}
                    json: {item_id: 101, quantity: 1}
                    expect: {status: 201, json: {$.user: "{{ uid }}"}}
        """.replace("CLIENT", client)
    )
    user = h.user()
    for _ in range(2):
        h.journey(user, "me")
        h.journey(user, "cart")
    assert messages(h) == []
    assert counts(h) == {("POST", "/login"): (1, 0), ("GET", "/me"): (2, 0), ("POST", "/cart"): (2, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_failed_on_start_blocks_journeys_and_is_retried_before_the_next_one(harness, client):
    h = harness(
        scenario(
            """
            - get: /items/{{ item_id }}
              expect: {json: {$.id: 102}}
            """,
            client,
            top=f"vars: {{key: retry-{client}-{uuid.uuid4().hex}}}",
            on_start="""
            - get: /flaky/{{ key }}?fail=2
              save: {attempt: $.attempt}
            - set: {item_id: 102}
            - post: /echo
              name: after flaky
            """,
        )
    )
    user = h.user()  # attempt 1 fails
    h.journey(user)  # the first task right after: no journey, no retry (Locust waits first)
    assert counts(h) == {("GET", "/flaky/{key}?fail=2"): (1, 1)}
    h.journey(user)  # on_start retried: attempt 2 fails, no journey
    assert counts(h) == {("GET", "/flaky/{key}?fail=2"): (2, 2)}
    h.journey(user)  # attempt 3 succeeds, then the journey runs
    h.journey(user)  # on_start is not run again
    assert user.vars["attempt"] == 3
    assert occurrences(h) == {("GET", "/flaky/{key}?fail=2", "status 503, status < 400"): 2}
    assert counts(h) == {
        ("GET", "/flaky/{key}?fail=2"): (3, 2),
        ("POST", "after flaky"): (1, 0),
        ("GET", "/items/{item_id}"): (2, 0),
    }


@pytest.mark.parametrize("client", CLIENTS)
def test_on_stop_runs_at_stop_only_for_a_started_user(harness, client):
    text = scenario(
        "- get: /health",
        client,
        top="vars: {password: secret}",
        on_start="""
        - post: /login
          json: {username: ann, password: "{{ password }}"}
          save: {token: $.token}
        """,
        on_stop="""
        - post: /echo
          name: logout
          headers: {Authorization: "Bearer {{ token }}"}
          expect: {json: {$.headers.authorization: "Bearer {{ token }}"}}
        - get: /items
          name: after logout
        """,
    )
    h = harness(text)
    user = h.user()
    h.journey(user)
    user.on_stop()
    assert messages(h) == []
    assert counts(h) == {
        ("POST", "/login"): (1, 0),
        ("GET", "/health"): (1, 0),
        ("POST", "logout"): (1, 0),
        ("GET", "after logout"): (1, 0),
    }

    h = harness(text.replace("password: secret", "password: wrong"))
    user = h.user()
    user.on_stop()
    assert messages(h) == ["status 401, status < 400"]  # a failed response saves nothing
    assert counts(h) == {("POST", "/login"): (1, 1)}


def test_tags_leave_out_users_and_locust_filters_journeys(harness):
    text = """
    version: 1
    users:
      Reader:
        journeys:
          browse: {tags: [read], weight: 3, steps: [{get: /items}]}
          detail: {tags: [read, x], steps: [{get: /items/101}]}
          order: {tags: [write], steps: [{post: /echo}]}
      Writer:
        journeys:
          pay: {tags: [write], steps: [{post: /echo}]}
          untagged: {steps: [{get: /health}]}
    """
    h = harness(text, tags=["x"])
    assert list(h.classes) == ["Reader"]
    h = harness(text, tags=["write"])
    assert list(h.classes) == ["Reader", "Writer"]
    h = harness(text, exclude_tags=["read", "write"])
    assert list(h.classes) == ["Writer"]
    h = harness(text, tags=["read"], exclude_tags=["x"])
    assert list(h.classes) == ["Reader"]

    # The classes keep every journey as a weighted task ...
    h = harness(text)
    reader = h.classes["Reader"]
    assert sorted(task.__name__ for task in reader.tasks) == [
        "journey_browse",
        "journey_browse",
        "journey_browse",
        "journey_detail",
        "journey_order",
    ]
    # ... and Locust's own --tags filtering (done when a runner starts) selects journeys by their tags.
    env = Environment(user_classes=[reader], host=h.env.host, tags=["read"], exclude_tags=["x"])
    runner = env.create_local_runner()
    runner.start(2, spawn_rate=100)
    for _ in range(500):  # until both users ran a journey (however loaded the machine is)
        gevent.sleep(0.02)
        if env.stats.get("/items", "GET").num_requests >= 2:
            break
    runner.quit()
    assert [task.__name__ for task in reader.tasks] == ["journey_browse"] * 3
    assert env.stats.get("/items", "GET").num_requests >= 2
    assert env.stats.get("/items/101", "GET").num_requests == 0
    assert env.stats.get("/echo", "POST").num_requests == 0
    assert env.stats.total.num_failures == 0


def test_journey_weights_are_task_weights_and_tasks_run_journeys(harness):
    h = harness(
        """
        version: 1
        users:
          U:
            journeys:
              often: {weight: 4, steps: [{get: /items}]}
              rarely: {steps: [{get: /health}]}
        """
    )
    cls = h.classes["U"]
    names = [task.__name__ for task in cls.tasks]
    assert sorted(names) == ["journey_often"] * 4 + ["journey_rarely"]
    user = h.user()
    for task in cls.tasks:
        task(user)
    assert counts(h) == {("GET", "/items"): (4, 0), ("GET", "/health"): (1, 0)}


def test_wait_kinds_give_locust_wait_times(harness):
    h = harness(
        """
        version: 1
        users:
          Default: {journeys: {j: {steps: [{get: /health}]}}}
          Number: {wait: 2, journeys: {j: {steps: [{get: /health}]}}}
          Text: {wait: 500ms, journeys: {j: {steps: [{get: /health}]}}}
          Constant: {wait: {constant: 1.5s}, journeys: {j: {steps: [{get: /health}]}}}
          Between: {wait: {between: [200ms, 0.3]}, journeys: {j: {steps: [{get: /health}]}}}
          Pacing: {wait: {pacing: 10}, journeys: {j: {steps: [{get: /health}]}}}
          Throughput: {wait: {throughput: 4}, journeys: {j: {steps: [{get: /health}]}}}
        """
    )
    users = {name: h.user(name, start=False) for name in h.classes}
    assert users["Default"].wait_time() == 0
    assert users["Number"].wait_time() == 2
    assert users["Text"].wait_time() == 0.5
    assert users["Constant"].wait_time() == 1.5
    samples = [users["Between"].wait_time() for _ in range(200)]
    assert all(0.2 <= s <= 0.3 for s in samples)
    assert max(samples) - min(samples) > 0.05
    # constant_pacing / constant_throughput: the wait fills the rest of the period after a run
    # (Locust starts the clock when the user is made).
    for name, period in (("Pacing", 10.0), ("Throughput", 0.25)):
        made = time.monotonic()
        user = h.user(name, start=False)
        time.sleep(0.02)  # a journey run that took at least 20 ms
        wait = user.wait_time()
        assert period - (time.monotonic() - made) <= wait <= period - 0.02


def test_weight_fixed_count_and_client_classes(harness):
    h = harness(
        """
        version: 1
        defaults: {client: fast}
        users:
          Heavy: {weight: 5, journeys: {j: {steps: [{get: /health}]}}}
          Admin: {fixed_count: 2, client: http, journeys: {j: {steps: [{get: /health}]}}}
        journeys:
          Solo: {weight: 3, steps: [{get: /health}]}
          Pinned: {fixed_count: 1, client: http, steps: [{get: /health}]}
        """
    )
    heavy, admin, solo, pinned = (h.classes[n] for n in ("Heavy", "Admin", "Solo", "Pinned"))
    assert (heavy.weight, heavy.fixed_count) == (5, 0)
    assert (admin.weight, admin.fixed_count) == (1, 2)
    assert (solo.weight, solo.fixed_count) == (3, 0)
    assert pinned.fixed_count == 1
    assert issubclass(heavy, FastHttpUser) and not issubclass(heavy, HttpUser)
    assert issubclass(solo, FastHttpUser)
    assert issubclass(admin, HttpUser) and not issubclass(admin, FastHttpUser)
    assert issubclass(pinned, HttpUser)
    assert all(cls.__name__ == name for name, cls in h.classes.items())
    for name in h.classes:
        user = h.user(name)
        h.journey(user)
    assert counts(h) == {("GET", "/health"): (4, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_client_default_is_http_and_client_key_picks_the_class(harness, client):
    h = harness(scenario("- get: /health", client))
    assert issubclass(h.classes["U"], FastHttpUser if client == "fast" else HttpUser)
    h = harness("version: 1\njourneys: {J: {steps: [{get: /health}]}}\n")
    assert issubclass(h.classes["J"], HttpUser)


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_spawned_run_of_two_journeys(harness, client):
    h = harness(
        """
        version: 1
        defaults: {client: CLIENT}
        users:
          Shopper:
            wait: {between: [0.01, 0.03]}
            on_start:
              - post: /login
                json: {username: "shopper", password: secret}
                save: {token: $.token}
              - headers: {Authorization: "Bearer {{ token }}"}
            on_stop:
              - post: /echo
                name: logout
            journeys:
              browse:
                weight: 2
                steps:
                  - get: /items
                    save: {item_id: {jsonpath: "$[*].id", pick: random}}
                  - get: /items/{{ item_id }}
                    expect: {json: {$.id: "{{ item_id }}"}}
              buy:
                steps:
                  - post: /cart
                    json: {item_id: 102, quantity: 1}
                    expect: {status: 201}
                  - think: 0.01
                  - get: /me
        """.replace("CLIENT", client)
    )
    h.run(users=5, seconds=1.5)
    assert messages(h) == []
    table = counts(h)
    assert table[("POST", "/login")] == (5, 0)
    for key in (("GET", "/items"), ("GET", "/items/{item_id}"), ("POST", "/cart"), ("GET", "/me")):
        requests, failures = table[key]
        assert requests >= 5 and failures == 0, key
    assert table[("GET", "/items")][0] >= table[("GET", "/items/{item_id}")][0]
    assert set(table) == {
        ("POST", "/login"),
        ("GET", "/items"),
        ("GET", "/items/{item_id}"),
        ("POST", "/cart"),
        ("GET", "/me"),
        ("POST", "logout"),
    }
    assert table[("POST", "logout")] == (5, 0)
    assert h.env.stats.total.num_failures == 0


def test_faker_seed_and_locale(harness):
    text = """
    version: 1
    faker: {seed: 1, locale: de_DE}
    vars:
      who: "{{ fake.name() }}"
    users:
      U:
        journeys:
          j:
            steps:
              - post: /echo
                json: {name: "{{ who }}", city: "{{ fake.city() }}"}
                expect: {json: {$.json.name: "{{ who }}", $.json.city: {type: string, min_length: 1}}}
    """
    first = harness(text).user()
    again = harness(text)
    second = again.user()
    assert isinstance(first.vars["who"], str) and first.vars["who"]
    assert first.vars["who"] == second.vars["who"]
    reference = Faker(["de_DE"])
    reference.seed_instance(1)
    assert first.vars["who"] in [reference.name() for _ in range(3)]
    again.journey(second, times=2)
    assert messages(again) == []
    assert counts(again) == {("POST", "/echo"): (2, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_retried_on_start_renders_its_values_afresh(harness, client):
    bucket = f"register-{client}-{uuid.uuid4().hex}"
    h = harness(
        scenario(
            "- get: /health",
            client,
            top="vars: {username: 'user-{{ uuid() }}'}",
            on_start=f"""
            - post: /record/{bucket}
              name: register
              json: {{username: "{{{{ username }}}}"}}
              save: {{token: $.acces_token}}
            """,
        )
    )
    user = h.user()
    for _ in range(6):  # on_start is retried before the journeys
        h.journey(user)
    with urllib.request.urlopen(f"{h.env.host}/record/{bucket}", timeout=10) as response:
        names = [entry["username"] for entry in json.load(response)]
    assert len(names) >= 3
    assert len(set(names)) == len(names), names
    assert occurrences(h) == {("POST", "register", "save token: no value at $.acces_token"): len(names)}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_user_sets_in_init_every_attribute_it_sets_later(harness, client):
    """CPython keeps an instance's attributes in a slot array shared by its class only for names that the first
    instances set: a name first set in on_start or a headers step, once dozens of users exist, would give each user a
    dict of its own (about 460 bytes). So a user's attribute names after on_start and journeys are those of __init__."""
    h = harness(
        scenario(
            """
            - headers: {Authorization: "Bearer {{ token }}"}
            - get: /me
              expect: {status: 200}
            """,
            client,
            on_start="""
            - post: /login
              json: {username: ann, password: secret}
              save: {token: $.token}
            """,
        )
    )
    names = set(vars(h.user(start=False)))
    assert {"vars", "started", "retry_waits", "stop_reason", "session_headers", "header_cache"} <= names
    user = h.user()
    h.journey(user, times=2)
    assert messages(h) == [] and counts(h)[("GET", "/me")] == (2, 0)
    assert set(vars(user)) == names
    assert user.session_headers == {"Authorization": f"Bearer {user.vars['token']}"}


def test_fast_users_share_their_agents_default_headers_and_each_sends_them(harness):
    h = harness(scenario("- get: /echo\n  expect: {json: {$.headers.accept: '*/*'}}", "fast"))
    first, second = h.user(), h.user()
    assert first.client.client.default_headers is second.client.client.default_headers
    assert first.client.client.default_headers["User-Agent"].startswith("locust-scenarios/")
    h.journey(first)
    h.journey(second)
    assert messages(h) == [] and counts(h)[("GET", "/echo")] == (2, 0)
