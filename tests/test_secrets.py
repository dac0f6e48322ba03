"""Secrets stay secret: masked in every message, log line, report, verdict and validate output.

The values below are what a leak would show: every test looks for them in what the engine
wrote, and finds none.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_support import CLIENTS, occurrences, scenario
from test_cli import ROOT, locust

from engine import diagnose
from engine.errors import ErrorSink, Position
from engine.load import load_plan
from engine.secrets import MASK, Secrets, register
from engine.templates import Templates

API_PASSWORD = "PW-SECRET-1111"
VAULT_KEY = "VAULT-KEY-2222"
LOGIN_PASSWORD = "secret"  # what tests/target.py accepts
SECRET_ENV = {"API_PASSWORD": API_PASSWORD, "VAULT_KEY": VAULT_KEY, "LOGIN_PASSWORD": LOGIN_PASSWORD}


@pytest.fixture(autouse=True)
def fresh() -> None:
    diagnose.reset()


def render(text: str, **scope: object) -> str:
    templates = Templates()
    compiled = templates.compile(text, Position("s.yaml", 1, 1), ErrorSink())
    try:
        compiled.render({**templates.builtins(), **scope})
    except Exception as exc:
        return str(exc)
    raise AssertionError(f"{text} rendered")


# -- template messages: the expression, never the looked-up value ---------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ tokens[password] }}", "'tokens' has no key given by 'password'"),
        ("x {{ tokens[password] }} y", "'tokens' has no key given by 'password'"),
        ("{{ tokens[user.password] }}", "'tokens' has no key given by 'user.password'"),
        ("{{ tokens[password ~ '!'] }}", "'tokens' has no key given by an expression"),
        ("{{ items[password] }}", "'items' has no item given by 'password'"),
        ("{{ tokens['gone'] }}", "'tokens' has no key 'gone'"),
        ("{{ tokens.gone }}", "'tokens' has no key 'gone'"),
        ("{{ user.profile.gone }}", "'user.profile' has no key 'gone'"),
        ("{{ items[7] }}", "'items' has no item 7"),
        ("{{ password.gone }}", "'password' has no attribute 'gone'"),
        ("{{ nothing }}", "'nothing' is undefined"),
        ("{{ nothing.x }}", "'nothing' is undefined"),
        ("{{ (items | list)[7] }}", "the value has no item 7"),
    ],
)
def test_a_lookup_that_fails_names_the_expression(text: str, expected: str) -> None:
    for password in (API_PASSWORD, "another-value"):
        scope = {"tokens": {"known": 1}, "items": [1], "user": {"password": password, "profile": {}}}
        assert render(text, password=password, **scope) == expected


def test_lookups_that_succeed_are_unchanged() -> None:
    templates = Templates()
    scope = {**templates.builtins(), "cfg": {"a": {"b": 1}, "k": "a"}, "items": [1, 2, 3], "name": "abc"}
    for text, value in [
        ("{{ cfg.a.b }}", 1),
        ("{{ cfg[cfg.k]['b'] }}", 1),
        ("{{ items[1:] }}", [2, 3]),
        ("{{ items[-1] }}", 3),
        ("{{ name.upper() }}", "ABC"),
        ("{{ cfg['zz'] is defined }}", False),
        ("{{ cfg[name] | default('d') }}", "d"),
        ("{{ {'a': 1}['a'] }}", 1),
    ]:
        assert templates.compile(text, Position("s.yaml", 1, 1), ErrorSink()).render(scope) == value, text


# -- what is secret -------------------------------------------------------------------------------


def test_masking_replaces_every_secret_value_of_the_scope() -> None:
    secrets = Secrets([("password",), ("shopper", "pin"), ("keys",)])
    scope = {"password": "hunter22", "shopper": {"name": "ann-marie", "pin": 987654}, "keys": ["k-one", "k2"]}
    text = "hunter22 ann-marie 987654 k-one k2 hunter22 " + "hunter22".replace("2", "%32")
    masked = secrets.mask(text, scope)
    assert masked == f"{MASK} ann-marie {MASK} {MASK} k2 {MASK} hunter%32%32"  # "k2": too short to mask
    assert secrets.mask("a/b c", {"password": "a/b c"}) == MASK
    assert secrets.mask("?pw=a%2Fb+c", {"password": "a/b c"}) == f"?pw={MASK}"  # as a URL carries it
    assert secrets.mask('{"pw": "a\\"b"}', {"password": 'a"b'}) == '{"pw": "a\\"b"}'  # 3 characters: kept
    assert Secrets().mask("Bearer t0ken-1", None, {"Authorization": "Bearer t0ken-1"}) == MASK
    assert Secrets().mask("sid t0ken-1", None, {"Cookie": "sid=t0ken-1; a=b"}) == f"sid {MASK}"
    assert Secrets().mask("plain text", None, {"Accept": "plain text"}) == "plain text"


def test_env_secret_values_are_masked_wherever_they_appear(monkeypatch) -> None:
    monkeypatch.setenv("TEST_SECRETS_ENV", "env-secret-5150")
    assert render("{{ {}[env('TEST_SECRETS_ENV', secret=true)] }}") == "the value has no key given by an expression"
    assert Secrets().mask("leaked env-secret-5150?") == f"leaked {MASK}?"
    register("default-secret-6160")
    assert Secrets().mask("default-secret-6160") == MASK


def test_the_variables_of_secret_headers_parameters_auth_and_cookies_are_secret(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        scenario(
            """
            - get: /echo
              params: {api_key: "{{ key }}", page: "{{ page }}"}
              headers: {X-Trace: "{{ trace }}", Proxy-Authorization: "Basic {{ proxy }}"}
              auth: [ann, "{{ pw }}"]
              save: {sid: {cookie: session}, plain: $.method}
            - headers: {Authorization: "Bearer {{ token }}", Accept: "{{ accept }}"}
            """,
            defaults={"headers": {"Cookie": "theme={{ theme }}"}},
            top="secrets: [declared]\nvars: {key: 1, page: 1, trace: 1, proxy: 1, pw: 1, token: 1, accept: 1, "
            "theme: 1, declared: 1}",
        ),
        encoding="utf-8",
    )
    plan = load_plan(path, module="secrets_names")
    assert plan.program.secrets.names() == {"key", "proxy", "pw", "sid", "token", "theme", "declared"}


# -- runs -----------------------------------------------------------------------------------------

FED = """
secrets: [shopper.password]
vars: {tokens: {known: 1}}
data:
  shoppers: {rows: [{name: ann, password: PW-ANN-1111}, {name: bob, password: PW-BOB-2222}], strategy: sequential}
"""
FED_STEPS = """
- log: "{{ shopper.name }} signs in with {{ shopper.password }}"
- get: /echo?pw={{ shopper.password }}
  name: echo
  expect: {status: 201}
  on_failure: continue
- get: /echo
  name: echo check
  expect: {json: {"$.method": "{{ [{}] | map(attribute=shopper.password) | list }}"}}
  on_failure: continue
- set: {t: "{{ tokens[shopper.password] }}"}
"""


@pytest.mark.parametrize("client", CLIENTS)
def test_users_with_different_secrets_fail_with_one_message(harness, client, caplog):
    text = scenario(FED_STEPS, client, top=FED, on_start="- feed: {from: shoppers, as: shopper}")
    line = next(number for number, row in enumerate(text.splitlines(), 1) if "- set:" in row)
    h = harness(text)
    with caplog.at_level(logging.DEBUG):
        for user in (h.user(), h.user()):
            h.journey(user, times=2)
    assert occurrences(h) == {
        ("GET", "echo", "status 200, expected 201"): 4,
        ("GET", "echo check", f"check error: 'dict object' has no attribute '{MASK}'"): 4,
        ("SET", f"set step at line {line}", "template error in t: 'tokens' has no key given by 'shopper.password'"): 4,
    }
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"ann signs in with {MASK}" in logged and f"bob signs in with {MASK}" in logged
    assert f"pw={MASK}" in logged  # the URL and the echoed body in the diagnosis
    assert "PW-ANN-1111" not in logged and "PW-BOB-2222" not in logged


@pytest.mark.parametrize("client", CLIENTS)
def test_a_token_sent_in_authorization_is_masked_in_log_steps_and_failures(harness, client, caplog):
    text = scenario(
        """
        - log: "token {{ token }}, session {{ sid }}"
        - get: /me
          expect: {json: {"$.id": "{{ tokens[token] }}"}}
        """,
        client,
        top="vars: {tokens: {}}",
        on_start="""
        - post: /login
          json: {username: tokenholder, password: secret}
          save: {token: $.token, sid: {cookie: session}}
        - headers: {Authorization: "Bearer {{ token }}"}
        """,
    )
    h = harness(text)
    with caplog.at_level(logging.DEBUG):
        h.journey(h.user())
    assert occurrences(h) == {("GET", "/me", "check error: 'tokens' has no key given by 'token'"): 1}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"token {MASK}, session s" in logged  # the session cookie "s1" is too short to be masked
    assert "Authorization: Bearer ***" in logged
    assert "-tokenholder" not in logged  # the token: tok-<id>-tokenholder


RUN = """
version: 1
name: secret-run
secrets: [api_password]
vars:
  api_password: "{{ env('API_PASSWORD') }}"
  vault: "{{ env('VAULT_KEY', secret=true) }}"
  login_password: "{{ env('LOGIN_PASSWORD', secret=true) }}"
  tokens: {known: 1}
defaults: {client: CLIENT}
thresholds:
  - {metric: requests, above: 0}
users:
  U:
    wait: {constant: 0.1}
    on_start:
      - post: /login
        json: {username: alice, password: "{{ login_password }}"}
        save: {token: $.token}
      - headers: {Authorization: "Bearer {{ token }}"}
    journeys:
      j:
        steps:
          - log: "password {{ api_password }}, vault {{ vault }}, token {{ token }}, login {{ login_password }}"
          - log: "{{ [{}] | map(attribute=vault) | list }}"
          - get: /me
          - get: /echo?api_key={{ vault }}&pw={{ api_password }}
            name: echo
            expect: {status: 201}
            on_failure: continue
          - get: /echo
            name: echo check
            expect: {json: {"$.method": "{{ [{}] | map(attribute=api_password) | list }}"}}
            on_failure: continue
          - set: {t: "{{ tokens[api_password] }}"}
"""


@pytest.mark.parametrize("client", CLIENTS)
def test_no_output_of_a_locust_run_holds_a_secret(target_url, tmp_path, client):
    (tmp_path / "run.yaml").write_text(RUN.replace("CLIENT", client), encoding="utf-8")
    outputs = ["--csv", "out", "--html", "report.html", "--verdict-json", "verdict.json"]
    outputs += ["--junit-xml", "junit.xml", "--logfile", "run.log", "--loglevel", "DEBUG"]
    args = ["--scenario", "run.yaml", "-H", target_url, "--headless", "-u", "2", "-r", "2", "-t", "3s", *outputs]
    result = locust(args, cwd=tmp_path, env=SECRET_ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    written = {path.name: path.read_text(encoding="utf-8") for path in tmp_path.iterdir() if path.name != "run.yaml"}
    assert {"out_failures.csv", "out_stats.csv", "report.html", "verdict.json", "junit.xml", "run.log"} <= set(written)
    failures = written["out_failures.csv"]
    assert "template error in t: 'tokens' has no key given by 'api_password'" in failures
    assert f"check error: 'dict object' has no attribute '{MASK}'" in failures
    assert "status 200, expected 201" in failures
    assert "password ***, vault ***, token ***, login ***" in written["run.log"]
    assert "log step: template error: 'dict object' has no attribute '***'" in written["run.log"]
    assert "api_key=***&pw=***" in written["run.log"]  # the diagnosis of the failed request
    everything = {"stdout": result.stdout, "stderr": result.stderr, **written}
    for where, text in everything.items():
        for value in (API_PASSWORD, VAULT_KEY, "tok-", '"secret"', "login secret", "=secret"):
            assert value not in text, f"{value} in {where}"


@pytest.mark.slow
def test_validate_masks_secrets_in_load_time_errors(tmp_path):
    (tmp_path / "load.yaml").write_text(
        "version: 1\n"
        "vars:\n"
        "  password: \"{{ env('API_PASSWORD', secret=true) }}\"\n"
        "  tokens: {known: 1}\n"
        '  t: "{{ tokens[password] }}"\n'
        '  u: "{{ [{}] | map(attribute=password) | list }}"\n'
        "users: {U: {journeys: {j: {steps: [{get: /}]}}}}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "engine", "validate", "load.yaml"],
        cwd=tmp_path,
        env={"PATH": "", "PYTHONPATH": str(ROOT), **SECRET_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        "load.yaml:5:6: cannot render vars.t: 'tokens' has no key given by 'password'",
        f"load.yaml:6:6: cannot render vars.u: 'dict object' has no attribute '{MASK}'",
    ]
    assert API_PASSWORD not in result.stdout + result.stderr


def test_the_secrets_example_is_documented() -> None:
    example = (ROOT / "examples" / "secrets.yaml").read_text(encoding="utf-8")
    assert "secrets:" in example and "secret=true" in example
    assert "### Secrets" in Path(ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_an_included_file_declares_its_secrets_too(tmp_path) -> None:
    (tmp_path / "lib.yaml").write_text("version: 1\nsecrets: [password]\nvars: {password: pw-1234}\n", encoding="utf-8")
    (tmp_path / "main.yaml").write_text(
        "version: 1\ninclude: [lib.yaml]\nsecrets: [other]\nvars: {other: x}\n"
        "users: {U: {journeys: {j: {steps: [{get: /}]}}}}\n",
        encoding="utf-8",
    )
    plan = load_plan(tmp_path / "main.yaml", module="secrets_included")
    assert plan.program.secrets.names() == {"password", "other"}
    (tmp_path / "lib.yaml").write_text("version: 1\nsecrets: [pasword]\nvars: {password: pw-1234}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "engine", "validate", "main.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.stderr.splitlines() == [
        "lib.yaml:2:11: secrets: no variable is named 'pasword' (did you mean 'password'?)"
    ], result.stderr
