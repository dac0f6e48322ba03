"""``locust-scenario dry-run``: the flagship scenarios in three formats (snapshots), nothing sent, secrets masked.

Snapshots live in ``tests/dryrun/``; after a deliberate change of the output,
``UPDATE_SNAPSHOTS=1 pytest tests/test_dryrun.py`` rewrites them (then read the diff).
"""

from __future__ import annotations

import io
import os
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from engine import cli
from engine.dryrun import FORMATS, Placeholder, dry_run
from engine.load import compile_file

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "tests" / "dryrun"
FLAGSHIPS = ("shop", "inventory")


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["dry-run", *args], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("output", FORMATS)
@pytest.mark.parametrize("name", FLAGSHIPS)
def test_flagship_dry_runs_match_their_snapshots(name: str, output: str) -> None:
    code, text, err = run_cli(str(ROOT / f"scenarios/{name}.yaml"), "--format", output, "--seed", "7")
    assert (code, err) == (0, "")
    snapshot = SNAPSHOTS / f"{name}.{output}"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.write_text(text, encoding="utf-8")
    assert text == snapshot.read_text(encoding="utf-8")


def test_a_dry_run_prints_the_same_every_time_and_a_seed_changes_the_fakes() -> None:
    program, _ = compile_file(ROOT / "scenarios/shop.yaml")
    first = dry_run(program, seed=3)
    assert dry_run(compile_file(ROOT / "scenarios/shop.yaml")[0], seed=3) == first
    assert dry_run(program, seed=4) != first


def test_every_branch_one_round_one_attempt_and_the_saved_values(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            host: http://api.test
            vars: {ids: [7, 8, 9]}
            journeys:
              flow:
                steps:
                  - post: /login
                    name: Login
                    json: {user: a}
                    save: {token: $.token, who: {header: X-User}}
                  - headers: {Authorization: "Bearer {{ token }}"}
                  - if: "{{ token }}"
                    then:
                      - get: /yes
                    else:
                      - get: /no
                  - loop: {over: "{{ ids }}", as: id}
                    steps:
                      - get: /items/{{ id }}?by={{ who }}
                  - choose:
                      - {weight: 3, steps: [{get: /a}]}
                      - {weight: 1, steps: [{think: 2}]}
                  - poll:
                      get: /jobs/{{ token.id }}
                      until: {status: 200}
                      every: 500ms
                      max_attempts: 4
                  - set: {when: "{{ now() }}"}
                  - log: "done at {{ when }}"
            """
        ),
        encoding="utf-8",
    )
    text = dry_run(compile_file(path)[0])
    lines = [line.strip() for line in text.splitlines()]
    assert "POST http://api.test/login    [stats name: Login]" in lines
    assert "saves who <- header X-User" in lines
    assert "session headers: Authorization: Bearer <saved: token from Login $.token>" in lines
    assert "if {{ token }}:" in lines and "else:" in lines
    assert (
        "GET http://api.test/yes    [stats name: /yes]" in lines
        and "GET http://api.test/no    [stats name: /no]" in lines
    )
    assert (
        "GET http://api.test/items/7?by=<saved: who from Login header X-User>    [stats name: /items/{id}?by={who}]"
        in lines
    )
    assert not any(line.startswith("GET http://api.test/items/8") for line in lines)  # one round
    assert "choose branch 1 of 2 (weight 3 of 4):" in lines and "think 2s" in lines
    assert "poll until status 200 (one attempt shown; every 0.5s, at most 4):" in lines
    assert (
        "GET http://api.test/jobs/<saved: token.id from Login $.token>    [stats name: /jobs/{token.id} (poll)]"
        in lines
    )
    assert "set when = <at run time: now()>" in lines and "log: done at <at run time: now()>" in lines


def test_a_dry_run_sends_nothing() -> None:
    """A server that counts connections sees none, whatever the scenario's host or -H says."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[object] = []
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            try:
                accepted.append(server.accept())
            except TimeoutError:
                continue

    counter = threading.Thread(target=count)
    counter.start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        for name in FLAGSHIPS:
            for output in FORMATS:
                code, text, _ = run_cli(str(ROOT / f"scenarios/{name}.yaml"), "-H", url, "--format", output)
                assert code == 0 and url in text
    finally:
        done.set()
        counter.join()
        server.close()
    assert accepted == []


def test_secrets_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRY_API_KEY", "k-0123456789")
    path = tmp_path / "secret.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            host: http://api.test
            vars:
              password: hunter2-very-secret
              key: "{{ env('DRY_API_KEY', secret=true) }}"
            secrets: [password]
            journeys:
              j:
                steps:
                  - post: /login
                    json: {user: a, password: "{{ password }}"}
                    auth: [a, "{{ password }}"]
                    headers: {X-Api-Key: "{{ key }}"}
                  - log: "logged in with {{ password }}"
            """
        ),
        encoding="utf-8",
    )
    for output in FORMATS:
        code, text, _ = run_cli(str(path), "--format", output)
        assert code == 0
        assert "hunter2" not in text and "k-0123456789" not in text
        assert "aHVudGVy" not in text  # nor inside basic auth's base64
        assert "***" in text


def test_unknown_persona_or_journey_and_an_invalid_file() -> None:
    code, _, err = run_cli(str(ROOT / "scenarios/shop.yaml"), "--persona", "Nobody")
    assert code == cli.EXIT_USAGE and "no persona 'Nobody'" in err
    code, _, err = run_cli(str(ROOT / "scenarios/shop.yaml"), "--journey", "nope")
    assert code == cli.EXIT_USAGE and "no journey 'nope'" in err
    code, out, err = run_cli(str(ROOT / "tests/invalid/duration_names_the_key.yaml"))
    assert code == cli.EXIT_INVALID and out == "" and "duration_names_the_key.yaml:" in err


def test_a_placeholder_reads_as_what_it_stands_for() -> None:
    token = Placeholder("saved", "user", "from Login $.user")
    assert token == "<saved: user from Login $.user>"
    assert token.id == "<saved: user.id from Login $.user>"
    assert token["name"] == "<saved: user['name'] from Login $.user>"
