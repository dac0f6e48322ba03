"""Reuse across files and places: ``include``, ``services``, ``environments`` with ``--env`` and ``--var``.

Composition is checked through the whole pipeline (``engine.load``): values
that reach requests are echoed back by the in-process target and read from the
users' variables; problems are compared exactly, at ``file:line:col``. The
command-line overrides also run through real ``locust`` and ``python -m engine
validate`` processes (bounded by timeouts) against the target as a subprocess.
"""

from __future__ import annotations

import json
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_support import counts, messages
from target import Target
from test_cli import headless, locust, run_engine, stats

from engine.compose import Overrides
from engine.load import check_file, compile_file

ROOT = Path(__file__).resolve().parent.parent


def write(base: Path, name: str, text: str) -> Path:
    """Write a dedented file under ``base`` (making its folders) and return its path."""
    path = base / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path, overrides: Overrides | None = None) -> list[str]:
    return [str(error) for error in check_file(path, overrides or Overrides())]


# ---------------------------------------------------------------------------------------------------------------
# include


def library(tmp_path: Path, target: Target) -> None:
    """lib/common.yaml (vars, a fragment, an environment) including lib/deep/more.yaml (data, a service)."""
    write(
        tmp_path,
        "lib/common.yaml",
        """
        version: 1
        description: shared pieces
        include: [deep/more.yaml]
        vars:
          who: lib
          other: "{{ who }}-x"
        fragments:
          hello:
            params: [name]
            steps:
              - get: /echo
                service: api
                params: {n: "{{ name }}", w: "{{ who }}", o: "{{ other }}"}
                expect: {schema: schemas/echo.json}  # next to this file, like its data files
                save: {echoed: $.args}
        environments:
          loud:
            vars: {who: LOUD}
        x-anchor: {free: keys are fine}
        """,
    )
    write(
        tmp_path,
        "lib/deep/more.yaml",
        f"""
        version: 1
        data:
          accounts: {{csv: data/accounts.csv}}
        services:
          api: {target.url}
        """,
    )
    # relative to lib/deep/ (the file that declares the feeder), not to the including scenario
    write(tmp_path, "lib/deep/data/accounts.csv", "username,password\nann,pw1\nbob,pw2\n")
    write(tmp_path, "lib/schemas/echo.json", '{"type": "object", "required": ["args"]}')


INCLUDING = """
version: 1
include: [lib/common.yaml]
vars:
  who: main
users:
  U:
    on_start:
      - feed: accounts
      - use: hello
        with: {name: "{{ accounts.username }}"}
      - get: /echo
        service: api
        save: {api_host: $.headers.host}
    journeys:
      j:
        steps:
          - get: /items
"""


def test_included_vars_fragments_data_services_and_environments(harness, target, tmp_path):
    library(tmp_path, target)
    h = harness(INCLUDING, host="http://127.0.0.1:1")  # every request names its service or is not sent
    first, second = h.user(), h.user()
    assert first.vars["echoed"] == {"n": ["ann"], "w": ["main"], "o": ["main-x"]}  # the including file wins
    assert second.vars["echoed"] == {"n": ["bob"], "w": ["main"], "o": ["main-x"]}  # rows from lib/deep/data
    assert first.vars["api_host"] == target.url.removeprefix("http://")
    assert messages(h) == []
    assert counts(h) == {("GET", "/echo"): (4, 0)}

    loud = harness(INCLUDING, host="http://127.0.0.1:1", overrides=Overrides(env="loud"))
    assert loud.user().vars["echoed"] == {"n": ["ann"], "w": ["LOUD"], "o": ["LOUD-x"]}


def test_included_files_are_listed_in_the_digest(tmp_path, target):
    library(tmp_path, target)
    main = write(tmp_path, "main.yaml", INCLUDING)
    _, digest = compile_file(main)
    assert compile_file(main)[1] == digest
    write(tmp_path, "lib/deep/more.yaml", (tmp_path / "lib/deep/more.yaml").read_text() + "# changed\n")
    assert compile_file(main)[1] != digest  # a worker with another included file is refused


def test_definitions_made_twice_are_errors_at_the_later_one(tmp_path):
    pieces = """
        version: 1
        fragments:
          f: [{{get: /{name}}}]
        data:
          d: {{rows: [{{x: 1}}]}}
        services:
          s: http://{name}
        environments:
          e: {{host: http://{name}}}
        vars:
          v: {name}
        """
    write(tmp_path, "parts/b.yaml", pieces.format(name="b"))
    write(tmp_path, "parts/c.yaml", pieces.format(name="c"))
    main = write(
        tmp_path,
        "a.yaml",
        """
        version: 1
        include: [parts/b.yaml, parts/c.yaml]
        fragments:
          f: [{get: /a}]
        data:
          d: {rows: [{x: 1}]}
        services:
          s: http://a
        environments:
          e: {host: http://a}
        journeys:
          J:
            steps: [{use: f}]
        """,
    )
    b, c = tmp_path / "parts/b.yaml", tmp_path / "parts/c.yaml"
    assert problems(main) == [
        f"{main}:4:3: fragment 'f' is already defined at {b}:3:3 (rename one of them)",
        f"{main}:6:3: feeder 'd' is already defined at {b}:5:3 (rename one of them)",
        f"{main}:8:3: service 's' is already defined at {b}:7:3 (rename one of them)",
        f"{main}:10:3: environment 'e' is already defined at {b}:9:3 (rename one of them)",
        f"{c}:3:3: fragment 'f' is already defined at {b}:3:3 (rename one of them)",
        f"{c}:5:3: feeder 'd' is already defined at {b}:5:3 (rename one of them)",
        f"{c}:7:3: service 's' is already defined at {b}:7:3 (rename one of them)",
        f"{c}:9:3: environment 'e' is already defined at {b}:9:3 (rename one of them)",
    ]  # vars defined twice are not errors


def test_a_file_included_twice_through_two_paths_is_not_a_duplicate(harness, tmp_path):
    write(tmp_path, "common.yaml", "version: 1\nfragments:\n  ping: [{get: /health}]\nvars: {v: common}\n")
    write(tmp_path, "users/b.yaml", "version: 1\ninclude: [../common.yaml]\nfragments:\n  b: [{use: ping}]\n")
    write(tmp_path, "c.yaml", "version: 1\ninclude: [common.yaml]\nfragments:\n  c: [{use: ping}]\n")
    h = harness(
        """
        version: 1
        include: [users/b.yaml, c.yaml]
        journeys:
          J:
            steps: [{use: b}, {use: c}, {get: "/echo?v={{ v }}", save: {v: "$.args.v[0]"}}]
        """
    )
    h.journey(h.user())
    assert messages(h) == []
    assert counts(h) == {("GET", "/health"): (2, 0), ("GET", "/echo?v={v}"): (1, 0)}


def test_include_cycles(tmp_path):
    a = write(tmp_path, "a.yaml", "version: 1\ninclude: [parts/b.yaml]\njourneys:\n  J:\n    steps: [{get: /}]\n")
    b = write(tmp_path, "parts/b.yaml", "version: 1\ninclude:\n  - c.yaml\n")
    c = write(tmp_path, "parts/c.yaml", "version: 1\ninclude: [../a.yaml]\n")
    assert problems(a) == [f"{c}:2:11: include cycle: a.yaml -> b.yaml -> c.yaml -> a.yaml"]
    write(tmp_path, "parts/b.yaml", "version: 1\ninclude: [../a.yaml]\n")
    assert problems(a) == [f"{b}:2:11: include cycle: a.yaml -> b.yaml -> a.yaml"]
    itself = write(tmp_path, "self.yaml", "version: 1\ninclude: [self.yaml]\njourneys:\n  J:\n    steps: [{get: /}]\n")
    assert problems(itself) == [f"{itself}:2:11: include cycle: self.yaml -> self.yaml"]


def test_missing_included_file_is_reported_at_the_include_line(tmp_path):
    write(tmp_path, "lib/b.yaml", "version: 1\ninclude: [nothere.yaml]\n")
    main = write(
        tmp_path,
        "a.yaml",
        "version: 1\ninclude:\n  - lib/b.yaml\n  - gone.yaml\njourneys:\n  J:\n    steps: [{get: /}]\n",
    )
    assert problems(main) == [
        f"{main}:4:5: included file not found: {tmp_path / 'gone.yaml'} "
        f"(an include path is relative to the including file's folder, {tmp_path.as_posix()}/)",
        f"{tmp_path / 'lib/b.yaml'}:2:11: included file not found: {tmp_path / 'lib/nothere.yaml'} "
        f"(an include path is relative to the including file's folder, {(tmp_path / 'lib').as_posix()}/)",
    ]


def test_an_included_file_may_not_define_users_journeys_setup_or_settings(tmp_path):
    lib = write(
        tmp_path,
        "lib.yaml",
        """
        version: 1
        name: lib
        host: http://elsewhere
        users:
          X:
            journeys: {j: {steps: [{get: /}]}}
        journeys:
          Y:
            steps: [{get: /}]
        setup:
          - get: /
        teardown:
          - get: /
        fragments:
          ok: [{get: /}]
        """,
    )
    main = write(tmp_path, "a.yaml", "version: 1\ninclude: [lib.yaml]\njourneys:\n  J:\n    steps: [{use: ok}]\n")
    allowed = "an included file may only define vars, fragments, data, services, environments, secrets"
    assert problems(main) == [
        f"{lib}:3:1: {allowed}: found 'host'",
        f"{lib}:4:1: {allowed}: found 'users'",
        f"{lib}:7:1: {allowed}: found 'journeys'",
        f"{lib}:10:1: {allowed}: found 'setup'",
        f"{lib}:12:1: {allowed}: found 'teardown'",
    ]


def test_problems_inside_an_included_file_point_into_it(tmp_path):
    lib = write(
        tmp_path,
        "lib/pieces.yaml",
        """
        version: 1
        data:
          people: {csv: people.csv}
        fragments:
          broken:
            - get: "/{{ nope }}"
            - get: "/{{ password | nofilter }}"
            - get: "/{{ 1 + }}"
            - post: /x
              expct: {status: 200}
            - use: hellp
          hello: [{get: /}]
        """,
    )
    main = write(
        tmp_path,
        "main.yaml",
        "version: 1\ninclude: [lib/pieces.yaml]\nvars: {password: pw}\njourneys:\n  J:\n    steps: [{use: broken}]\n",
    )
    assert problems(main) == [
        f"{lib}:3:17: data file 'people.csv' not found (relative to the file that declares it)",
        f"{lib}:7:12: template syntax error: No filter named 'nofilter'.",
        f"{lib}:8:12: template syntax error: unexpected 'end of print statement'",
        f"{lib}:10:7: fragments.broken[3]: unknown key 'expct' (did you mean 'expect'?)",
        f"{lib}:11:7: unknown fragment 'hellp' (did you mean 'hello'?)",
    ]  # with a schema error, undefined names are not checked: fix it and they show
    write(tmp_path, "lib/people.csv", "name\nann\n")
    lib.write_text(lib.read_text().replace("      expct: {status: 200}\n", ""))
    lib.write_text(lib.read_text().replace('  - get: "/{{ 1 + }}"\n', "  - get: /ok\n"))
    lib.write_text(lib.read_text().replace(" | nofilter", ""))
    assert problems(main) == [
        f"{lib}:6:12: undefined variable 'nope' (define it under vars:, save it in an earlier step, "
        "or assign it with set:)",
        f"{lib}:10:7: unknown fragment 'hellp' (did you mean 'hello'?)",
    ]


# ---------------------------------------------------------------------------------------------------------------
# services


@pytest.fixture(scope="module")
def second() -> Iterator[Target]:
    """Another target on another port: the "orders service"."""
    server = Target().start()
    yield server
    server.stop()


def host_of(url: str) -> str:
    return url.removeprefix("http://")


def test_requests_with_a_service_go_to_its_base_url(harness, target, second, monkeypatch):
    monkeypatch.setenv("ORDERS_URL", second.url + "/")  # a trailing slash is dropped
    h = harness(
        f"""
        version: 1
        services:
          orders: "{{{{ env('ORDERS_URL') }}}}"
          same: {target.url}
        users:
          U:
            on_start:
              - get: /echo
                save: {{default_host: $.headers.host}}
              - get: /echo?from=service
                service: orders
                name: orders echo
                save: {{orders_host: $.headers.host}}
              - get: "{second.url}/echo"
                service: same
                save: {{full_url_host: $.headers.host}}
              - get: "{target.url}/echo"
                save: {{plain_full_url_host: $.headers.host}}
            journeys:
              j:
                steps:
                  - get: /items
                    service: orders
        """
    )
    user = h.user()
    assert user.vars["default_host"] == host_of(target.url)
    assert user.vars["orders_host"] == host_of(second.url)
    assert user.vars["full_url_host"] == host_of(second.url)  # a full URL ignores the service
    assert user.vars["plain_full_url_host"] == host_of(target.url)
    h.journey(user)
    assert messages(h) == []
    assert counts(h) == {
        ("GET", "/echo"): (1, 0),
        ("GET", "orders echo"): (1, 0),
        ("GET", f"{second.url}/echo"): (1, 0),
        ("GET", f"{target.url}/echo"): (1, 0),
        ("GET", "/items"): (1, 0),
    }


def test_a_service_can_be_unreachable_without_failing_the_others(harness, target):
    h = harness(
        """
        version: 1
        services:
          down: http://127.0.0.1:1
        journeys:
          J:
            steps:
              - get: /items
              - get: /items
                service: down
                name: down
        """
    )
    h.journey(h.user())
    assert counts(h) == {("GET", "/items"): (1, 0), ("GET", "down"): (1, 1)}
    assert messages(h) == ["connection refused"]


def test_unknown_service_and_service_url_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_SERVICE_URL", raising=False)
    path = write(
        tmp_path,
        "s.yaml",
        """
        version: 1
        services:
          orders: http://127.0.0.1:8081
          users: "{{ env('NO_SUCH_SERVICE_URL') }}"
          stock: "{{ base }}/stock"
        vars: {base: http://x}
        journeys:
          J:
            steps:
              - get: /a
                service: order
              - get: /b
                service: billing
        """,
    )
    assert problems(path) == [
        f"{path}:4:10: cannot render services.users: environment variable NO_SUCH_SERVICE_URL is not set "
        "(give env() a default)",
        f"{path}:5:10: undefined variable 'base' (services.stock is rendered once at load time, before vars: "
        "it can only use env() and the other built-ins)",
        f"{path}:10:9: unknown service 'order' (did you mean 'orders'?)",
        f"{path}:12:9: unknown service 'billing' (declare it under services:)",
    ]


# ---------------------------------------------------------------------------------------------------------------
# environments, --env and --var


ENVIRONMENTS = """
version: 1
host: http://127.0.0.1:1
vars:
  label: default
  n: 1
  flag: false
  text: plain
services:
  rec: http://127.0.0.1:1
environments:
  local:
    description: the target
    host: {url}
    vars: {{label: local}}
    services: {{rec: {url}}}
  empty: {{}}
users:
  U:
    wait: 0.05
    on_start:
      - post: /record/{{{{ bucket }}}}
        service: rec
        json: {{label: "{{{{ label }}}}", n: "{{{{ n }}}}", flag: "{{{{ flag }}}}", text: "{{{{ text }}}}"}}
    journeys:
      j:
        steps:
          - get: /health
"""


def variables(path: Path, overrides: Overrides) -> dict[str, Any]:
    program, _ = compile_file(path, overrides)
    return {name: value for name, value in program.new_scope().items() if name in {"label", "n", "flag", "text"}}


def test_env_replaces_host_vars_and_services_and_var_replaces_vars(tmp_path, target):
    path = write(tmp_path, "envs.yaml", ENVIRONMENTS.format(url=target.url).replace("{{ bucket }}", "b"))
    program, plain_digest = compile_file(path)
    assert program.host == "http://127.0.0.1:1"
    assert variables(path, Overrides()) == {"label": "default", "n": 1, "flag": False, "text": "plain"}

    program, local_digest = compile_file(path, Overrides(env="local"))
    assert program.host == target.url
    assert variables(path, Overrides(env="local")) == {"label": "local", "n": 1, "flag": False, "text": "plain"}
    (request,) = program.personas[0].on_start
    assert request.base == target.url  # type: ignore[attr-defined]
    assert local_digest != plain_digest  # a worker started with another --env is refused

    overrides = Overrides(env="local", vars=("n=5", "flag=true", "label=a=b c", "text={{ label }}!"))
    assert variables(path, overrides) == {"label": "a=b c", "n": 5, "flag": True, "text": "a=b c!"}
    assert variables(path, Overrides(vars=("n=2.5", "text="))) == {
        "label": "default",
        "n": 2.5,
        "flag": False,
        "text": "",
    }
    assert compile_file(path, Overrides(env="empty"))[0].host == "http://127.0.0.1:1"


def test_env_and_var_errors_are_command_line_errors(tmp_path, target):
    path = write(tmp_path, "envs.yaml", ENVIRONMENTS.format(url=target.url).replace("{{ bucket }}", "b"))
    assert problems(path, Overrides(env="locl")) == [
        "<command line>:1:1: --env locl: no such environment (did you mean 'local'?)"
    ]
    assert problems(path, Overrides(env="prod")) == [
        "<command line>:1:1: --env prod: no such environment (defined: local, empty)"
    ]
    assert problems(path, Overrides(vars=("lable=x", "x", "=1", "zzz=1"))) == [
        "<command line>:1:1: --var =1: expected name=value",
        "<command line>:1:1: --var lable: the scenario has no var 'lable' (did you mean 'label'?)",
        "<command line>:1:1: --var x: expected name=value",
        "<command line>:1:1: --var zzz: the scenario has no var 'zzz' (--var can only replace a var the scenario "
        "defines under vars:)",
    ]
    bare = write(tmp_path, "bare.yaml", "version: 1\njourneys:\n  J:\n    steps: [{get: /}]\n")
    assert problems(bare, Overrides(env="local")) == [
        "<command line>:1:1: --env local: no such environment (the scenario defines no environments)"
    ]


@pytest.mark.slow
def test_validate_command_with_env_and_var(tmp_path, target):
    path = write(tmp_path, "envs.yaml", ENVIRONMENTS.format(url=target.url).replace("{{ bucket }}", "b"))
    ok = run_engine("validate", "--env", "local", "--var", "n=5", "--var", "label=x", str(path), cwd=ROOT)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, f"{path}: ok\n", "")
    bad = run_engine("validate", "--env", "stage", "--var", "nn=5", "--var", "oops", str(path), cwd=ROOT)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == (
        "<command line>:1:1: --env stage: no such environment (defined: local, empty)\n"
        "<command line>:1:1: --var nn: the scenario has no var 'nn' (did you mean 'n'?)\n"
        "<command line>:1:1: --var oops: expected name=value\n"
    )


def recorded(url: str, bucket: str) -> list[Any]:
    with urllib.request.urlopen(f"{url}/record/{bucket}", timeout=5) as response:
        records: list[Any] = json.loads(response.read())
    return records


def test_locust_with_env_and_var(target_url, tmp_path):
    bucket = uuid.uuid4().hex
    path = write(tmp_path, "envs.yaml", ENVIRONMENTS.format(url=target_url).replace("{{ bucket }}", bucket))
    args = ["--scenario", str(path), "--env", "local", "--var", "n=5", "--var", "text=from cli"]
    args += ["--headless", "-u", "2", "-r", "2", "-t", "1s", "--json", "--only-summary"]  # no -H: the env's host
    result = locust(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert recorded(target_url, bucket) == [{"label": "local", "n": 5, "flag": False, "text": "from cli"}] * 2
    rows = stats(result)
    assert rows[("POST", f"/record/{bucket}")] == {"requests": 2, "failures": 0}
    assert rows[("GET", "/health")]["requests"] > 0
    assert rows[("GET", "/health")]["failures"] == 0

    args = ["--scenario", str(path), "--env", "nope", "--var", "nn=1", *headless(target_url, 1, 1)]
    result = locust(args, cwd=tmp_path)
    assert result.returncode == 2
    assert "<command line>:1:1: --env nope: no such environment (defined: local, empty)\n" in result.stderr
    assert "<command line>:1:1: --var nn: the scenario has no var 'nn' (did you mean 'n'?)\n" in result.stderr
    assert f"2 problems in {path}; nothing was started." in result.stderr


def test_an_environment_sets_the_client(tmp_path):
    from locust import FastHttpUser, HttpUser

    from engine.compose import Overrides
    from engine.load import load_plan

    path = tmp_path / "clients.yaml"
    path.write_text(
        """\
version: 1
host: http://127.0.0.1:9
defaults: {headers: {X-A: a}}
environments:
  fast: {defaults: {client: fast}}
users:
  U:
    journeys:
      j:
        steps:
          - get: /
""",
        encoding="utf-8",
    )
    http = load_plan(path, "clients_http").user_classes["U"]
    fast = load_plan(path, "clients_fast", overrides=Overrides(env="fast")).user_classes["U"]
    assert issubclass(http, HttpUser) and not issubclass(http, FastHttpUser)
    assert issubclass(fast, FastHttpUser)


CLIENT_SCENARIO = """\
version: 1
vars: {n: 1}
environments:
  fast: {defaults: {client: fast}}
users:
  U:
    wait: 0.05
    journeys:
      j:
        steps:
          - get: /health
"""


def test_var_sets_the_client(tmp_path):
    from locust import FastHttpUser, HttpUser

    from engine.load import load_plan

    path = write(tmp_path, "clients.yaml", CLIENT_SCENARIO)

    def base(module: str, *options: str, env: str | None = None) -> type:
        user: type = load_plan(path, module, overrides=Overrides(env=env, vars=options)).user_classes["U"]
        return FastHttpUser if issubclass(user, FastHttpUser) else HttpUser

    assert base("var_client_default") is HttpUser
    assert base("var_client_fast", "defaults.client=fast") is FastHttpUser
    assert base("var_client_http", "defaults.client=http") is HttpUser
    assert base("var_client_env_then_var", "defaults.client=http", env="fast") is HttpUser  # --var after --env
    assert base("var_client_env", env="fast") is FastHttpUser
    program, _ = compile_file(path, Overrides(vars=("defaults.timeout=2s", "defaults.verify_tls=false")))
    assert (program.scenario.defaults.timeout, program.scenario.defaults.verify_tls) == (2.0, False)
    assert compile_file(path)[1] != compile_file(path, Overrides(vars=("defaults.client=fast",)))[1]  # the digest


@pytest.mark.slow
def test_a_bad_var_for_a_default_is_a_command_line_error(tmp_path):
    path = write(tmp_path, "clients.yaml", CLIENT_SCENARIO)
    settable = "defaults.timeout, defaults.client, defaults.verify_tls, defaults.allow_redirects"
    assert problems(path, Overrides(vars=("defaults.client=fats",))) == [
        "<command line>:1:1: --var defaults.client: expected one of http, fast, got 'fats' (did you mean 'fast'?)"
    ]
    assert problems(path, Overrides(vars=("defaults.client=",))) == [
        "<command line>:1:1: --var defaults.client: expected one of http, fast, got ''"
    ]
    assert problems(path, Overrides(vars=("defaults.timeout=10 seconds", "defaults.verify_tls=maybe"))) == [
        "<command line>:1:1: --var defaults.timeout: expected a duration like 500ms, 2s, 1.5m or 1h, or a number of"
        " seconds (0 or more), got '10 seconds' (write 10s)",
        "<command line>:1:1: --var defaults.verify_tls: expected true or false, got a string",
    ]
    assert problems(path, Overrides(vars=("defaults.clinet=fast", "defaults.bogus=1", "defaults.headers=x"))) == [
        "<command line>:1:1: --var defaults.bogus: defaults has no setting 'bogus' (--var can set " + settable + ")",
        "<command line>:1:1: --var defaults.clinet: defaults has no setting 'clinet' (did you mean 'client'?)",
        "<command line>:1:1: --var defaults.headers: headers cannot be set with --var (set them in the file's"
        " defaults, or in an environment's)",
    ]
    assert problems(path, Overrides(vars=("client=fast",))) == [
        "<command line>:1:1: --var client: the scenario has no var 'client' (--var defaults.client=fast sets"
        " defaults.client)"
    ]
    bad = run_engine("validate", "--var", "defaults.client=fats", str(path), cwd=ROOT)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == (
        "<command line>:1:1: --var defaults.client: expected one of http, fast, got 'fats' (did you mean 'fast'?)\n"
    )


# A locustfile that reports the class of each response its users get: the client that made the request.
RESPONSE_CLASSES = """\
import sys

from locust import events

from engine.locust_plugin import load_from_command_line

plan = load_from_command_line(__name__)
globals().update(plan.exports())
seen = set()


@events.request.add_listener
def report(response=None, **_):
    kind = f"{type(response).__module__}.{type(response).__name__}"
    if kind not in seen:
        seen.add(kind)
        print("response class:", kind, file=sys.stderr, flush=True)
"""


@pytest.mark.parametrize(
    ("options", "response"),
    [
        ([], "locust.clients.ResponseContextManager"),  # HttpSession (requests)
        (["--var", "defaults.client=fast"], "locust.contrib.fasthttp.FastResponse"),
        (["--env", "fast", "--var", "defaults.client=http"], "locust.clients.ResponseContextManager"),
    ],
)
def test_locust_runs_the_client_that_var_sets(target_url, tmp_path, options, response):
    import subprocess

    from test_cli import LOCUST

    path = write(tmp_path, "clients.yaml", CLIENT_SCENARIO)
    locustfile = write(tmp_path, "report_clients.py", RESPONSE_CLASSES)
    args = [LOCUST, "-f", str(locustfile), "--scenario", str(path), *options, *headless(target_url, 1, 1)]
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("response class:")] == [
        f"response class: {response}"
    ]
    assert stats(result)[("GET", "/health")]["failures"] == 0


def test_locust_refuses_a_bad_client_before_any_user_starts(target_url, tmp_path):
    path = write(tmp_path, "clients.yaml", CLIENT_SCENARIO)
    result = locust(["--scenario", str(path), "--var", "defaults.client=fats", *headless(target_url, 1, 1)], tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "<command line>:1:1: --var defaults.client: expected one of http, fast, got 'fats' (did you mean 'fast'?)\n"
        f"1 problem in {path}; nothing was started.\n"
    )
    assert result.stdout == ""
