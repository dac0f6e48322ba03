"""Files stay inside the scenario's tree: includes, data files and schema files (engine.files).

Each case is refused with a message at the key that names the file, in bounded time (a device
or a FIFO is never opened for reading), and no message quotes what a refused file holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from runtime_support import validate_cli

from engine.files import DATA_LIMIT, Confinement, FileRefused, parse_size, size_text
from engine.load import check

ROOT = Path(__file__).resolve().parent.parent
HEAD = "version: 1\nname: c\nhost: http://127.0.0.1:9\n"
JOURNEY = "users:\n  U:\n    journeys:\n      j:\n        steps:\n          - get: /\n"
OUTSIDE = "is outside the scenario's folder"
ALLOW_HINT = "--allow-path DIR"


def problems(path: Path, text: str, allow: tuple[str, ...] = ()) -> list[str]:
    from engine.compose import Overrides

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    found, _library = check(path, Overrides(allow=allow))
    return [str(p).removeprefix(f"{path}:") for p in found]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    return tmp_path / "tree" / "s.yaml"


# -- includes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["../../../../../../../../etc/passwd", "/etc/passwd", "/etc/shadow"])
def test_an_include_outside_the_tree_is_refused_without_reading_it(scenario: Path, target: str) -> None:
    found = problems(scenario, HEAD + f"include: [{target}]\n" + JOURNEY)
    assert len(found) == 1 and found[0].startswith("4:11: included file ") and OUTSIDE in found[0], found
    assert ALLOW_HINT in found[0]
    assert ":0:0:" not in found[0]  # no line of the file is quoted


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/proc/self/environ"])
@pytest.mark.parametrize("section", ["include", "csv", "json", "schema"])
def test_devices_and_proc_files_are_refused_at_once(scenario: Path, device: str, section: str) -> None:
    text = (
        HEAD
        + {
            "include": f"include: [{device}]\n" + JOURNEY,
            "csv": f"data: {{d: {{csv: {device}}}}}\n" + JOURNEY,
            "json": f"data: {{d: {{json: {device}}}}}\n" + JOURNEY,
            "schema": JOURNEY + f"            expect: {{schema: {device}}}\n",
        }[section]
    )
    found = problems(scenario, text)
    assert len(found) == 1 and OUTSIDE in found[0], found


def test_an_allowed_device_is_still_not_read(scenario: Path) -> None:
    found = problems(scenario, HEAD + "files: {allow: [/dev]}\ndata: {d: {csv: /dev/zero}}\n" + JOURNEY)
    assert found == ["5:17: data file /dev/zero is not a regular file (name a file, not a device, pipe or socket)"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_inside_the_tree_is_refused_without_blocking(scenario: Path) -> None:
    scenario.parent.mkdir(parents=True)
    os.mkfifo(scenario.parent / "pipe.yaml")
    os.mkfifo(scenario.parent / "pipe.csv")
    found = problems(scenario, HEAD + "include: [pipe.yaml]\ndata: {d: {csv: pipe.csv}}\n" + JOURNEY)
    assert any("included file" in p and "is not a regular file" in p for p in found), found
    assert any("data file" in p and "is not a regular file" in p for p in found), found


def test_a_symlink_that_leaves_the_tree_is_refused(scenario: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "lib.yaml").write_text("version: 1\nvars: {a: 1}\n", encoding="utf-8")
    scenario.parent.mkdir(parents=True)
    (scenario.parent / "lib.yaml").symlink_to(tmp_path / "elsewhere" / "lib.yaml")
    found = problems(scenario, HEAD + "include: [lib.yaml]\n" + JOURNEY)
    assert len(found) == 1 and OUTSIDE in found[0]


def test_only_yaml_files_can_be_included(scenario: Path) -> None:
    scenario.parent.mkdir(parents=True)
    (scenario.parent / "notes.txt").write_text("root:x:0:0:secret-line\n", encoding="utf-8")
    found = problems(scenario, HEAD + "include: [notes.txt]\n" + JOURNEY)
    assert found == ["4:11: include notes.txt: only YAML files (.yaml, .yml) can be included"]


def test_a_folder_the_scenario_allows_may_be_included(scenario: Path, tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lib.yaml").write_text("version: 1\nvars: {a: 1}\n", encoding="utf-8")
    assert problems(scenario, HEAD + "files: {allow: [../shared]}\ninclude: [../shared/lib.yaml]\n" + JOURNEY) == []


@pytest.mark.slow
def test_the_command_line_may_allow_a_folder(scenario: Path, tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "lib.yaml").write_text("version: 1\nvars: {a: 1}\n", encoding="utf-8")
    text = HEAD + "include: [../shared/lib.yaml]\n" + JOURNEY
    assert len(problems(scenario, text)) == 1
    assert problems(scenario, text, allow=(str(tmp_path / "shared"),)) == []
    done = validate_cli("--allow-path", str(tmp_path / "shared"), str(scenario))
    assert done.returncode == 0, done.stderr


def test_an_included_file_cannot_widen_the_tree(scenario: Path, tmp_path: Path) -> None:
    scenario.parent.mkdir(parents=True)
    (scenario.parent / "lib.yaml").write_text("files: {allow: [/]}\nvars: {a: 1}\n", encoding="utf-8")
    found = problems(scenario, HEAD + "include: [lib.yaml, /etc/passwd]\n" + JOURNEY)
    assert any("an included file may only define" in p for p in found), found
    assert any(OUTSIDE in p for p in found), found


# -- size limits ------------------------------------------------------------------------------------


def test_a_data_file_over_the_limit_is_refused_and_the_limit_can_be_raised(scenario: Path) -> None:
    scenario.parent.mkdir(parents=True)
    (scenario.parent / "big.csv").write_text("a\n" + "1\n" * 600, encoding="utf-8")
    found = problems(scenario, HEAD + "files: {max_size: 1KB}\ndata: {d: {csv: big.csv}}\n" + JOURNEY)
    assert len(found) == 1
    assert "data file " in found[0] and "is 1.2 KiB, over the limit of 1000 bytes" in found[0]
    assert "files: {max_size: 200MB}" in found[0]
    assert problems(scenario, HEAD + "files: {max_size: 2KiB}\ndata: {d: {csv: big.csv}}\n" + JOURNEY) == []


def test_a_bad_size_is_a_schema_error(scenario: Path) -> None:
    found = problems(scenario, HEAD + "files: {max_size: lots}\n" + JOURNEY)
    assert len(found) == 1 and found[0].startswith("4:19:") and "200MB" in found[0], found


def test_sizes_parse_as_documented() -> None:
    assert parse_size("200MB") == 200 * 10**6
    assert parse_size("1.5GiB") == int(1.5 * 2**30)
    assert parse_size(1024) == 1024
    assert parse_size("12") == 12
    assert parse_size("lots") is None and parse_size(True) is None and parse_size(-1) is None
    assert size_text(DATA_LIMIT) == "50.0 MiB" and size_text(10) == "10 bytes"


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"a\n1\n")
    files = Confinement.around(tmp_path / "s.yaml", data_limit=3)
    with pytest.raises(FileRefused, match="is 4 bytes, over the limit of 3 bytes"):
        files.read(path, "data file")


@pytest.mark.parametrize(("limit", "refused"), [(6, True), (8, False)])
def test_a_file_that_grows_after_the_size_check_is_read_within_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, refused: bool
) -> None:
    """The size seen at the check was 2 bytes, 8 are there when it is read: past a limit of 6 it is refused,
    within one of 8 it is read whole (the read is bounded by the limit, not by the size seen)."""
    path = tmp_path / "d.csv"
    path.write_bytes(b"a\n1\n2\n3\n")
    real_stat = os.stat

    def stat_before_growth(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        found = real_stat(target, *args, **kwargs)
        fields = list(found[:10])
        fields[6] = 2  # st_size
        return os.stat_result(fields)

    monkeypatch.setattr(os, "stat", stat_before_growth)
    files = Confinement.around(tmp_path / "s.yaml", data_limit=limit)
    if refused:
        with pytest.raises(FileRefused, match="over the limit of 6 bytes"):
            files.read(path, "data file")
    else:
        assert files.read(path, "data file") == b"a\n1\n2\n3\n"


# -- messages never quote a refused file ------------------------------------------------------------


def test_a_broken_schema_file_is_reported_without_its_text(scenario: Path) -> None:
    scenario.parent.mkdir(parents=True)
    (scenario.parent / "s.schema.yaml").write_text("type: object\nsecret-value: [unclosed\n", encoding="utf-8")
    found = problems(scenario, HEAD + JOURNEY + "            expect: {schema: s.schema.yaml}\n")
    assert len(found) == 1 and "is not valid YAML at line" in found[0], found
    assert "secret-value" not in found[0] and "unclosed" not in found[0]


def test_the_shipped_scenarios_stay_inside_their_trees() -> None:
    for folder in ("scenarios", "examples"):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            found, _ = check(path)
            assert not [p for p in found if OUTSIDE in str(p)], path
