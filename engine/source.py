"""Stage 1: YAML text -> plain data that remembers where every node came from.

Mappings load as :class:`MarkedDict` and sequences as :class:`MarkedList`:
ordinary ``dict``/``list`` objects (so JSON Schema and the rest of the engine
see plain data) that also carry the :class:`Position` of themselves, of each
key and of each value. Duplicate keys are errors, and only YAML's safe tags
are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import yaml

from engine.errors import Position, ScenarioError, ScenarioErrors
from engine.files import SCENARIO_LIMIT, Confinement

PathItem = str | int

MAX_DEPTH = 64
"""The deepest nesting of mappings and lists a scenario may have (a real scenario needs about 20)."""
MAX_NODES = 1_000_000
"""The most nodes a document may have once its aliases are expanded (refuses "billion laughs")."""


class MarkedDict(dict[Any, Any]):
    """A mapping with the position of itself, of each key and of each value."""

    pos: Position
    key_pos: dict[Any, Position]
    value_pos: dict[Any, Position]
    spelled: dict[Any, str]  # how a key that YAML did not read as a string was written (on, yes, 1.0)


class MarkedList(list[Any]):
    """A sequence with the position of itself and of each item."""

    pos: Position
    item_pos: list[Position]


def _position(file: str, mark: Any) -> Position:
    return Position(file, mark.line + 1, mark.column + 1)


class _Marking(yaml.constructor.SafeConstructor):
    """Constructors for a safe loader: marked containers, duplicate keys rejected."""

    file: str = "<string>"
    problems: list[ScenarioError]
    lines: list[str]

    def value_position(self, node: yaml.Node) -> Position:
        """Where a value starts; for a block scalar (| or >), where its text starts, on the next line.

        Template errors are placed by the line within the text, so the text's first line must be line 1.
        """
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            for index in range(node.start_mark.line + 1, min(node.end_mark.line + 1, len(self.lines))):
                text = self.lines[index]
                if text.strip():
                    return Position(self.file, node.start_mark.line + 2, len(text) - len(text.lstrip(" ")) + 1)
        return _position(self.file, node.start_mark)

    def construct_yaml_map(self, node: yaml.MappingNode) -> Generator[dict[Any, Any], None, None]:
        data = MarkedDict()
        data.pos = _position(self.file, node.start_mark)
        data.key_pos = {}
        data.value_pos = {}
        yield data
        explicit: dict[Any, Position] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            pos = _position(self.file, key_node.start_mark)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                line = self.lines[key_node.start_mark.line] if key_node.start_mark.line < len(self.lines) else ""
                template = unquoted_template(line)
                if template and line[key_node.start_mark.column - 1 : key_node.start_mark.column + 1] == "{{":
                    outer = Position(pos.file, pos.line, pos.col - 1)
                    message = "YAML reads an unquoted {{ ... }} as a mapping"
                    self.problems.append(ScenarioError(outer, message, _quote_hint(template)))
                else:
                    self.problems.append(ScenarioError(pos, "a mapping key must be a plain scalar"))
                continue
            if key in explicit:
                first = explicit[key]
                self.problems.append(ScenarioError(pos, f"duplicate key '{key}' (first defined at line {first.line})"))
            explicit[key] = pos
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                continue
            data[key] = self.construct_object(value_node, deep=True)
            if not isinstance(key, str):
                if not hasattr(data, "spelled"):
                    data.spelled = {}
                data.spelled[key] = str(key_node.value)
            data.key_pos[key] = _position(self.file, key_node.start_mark)
            data.value_pos[key] = self.value_position(value_node)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            pos = _position(self.file, node.start_mark)
            digits = sum(c.isdigit() for c in str(node.value))
            self.problems.append(
                ScenarioError(
                    pos, f"an integer with {digits} digits is too long", "write a number of at most 4300 digits"
                )
            )
            return 0

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_float(node)
        if value != value or value in (float("inf"), float("-inf")):
            pos = _position(self.file, node.start_mark)
            self.problems.append(
                ScenarioError(pos, f"'{node.value}' is not a number a scenario can use", "write a finite number")
            )
            return 0.0
        return value

    def construct_yaml_seq(self, node: yaml.SequenceNode) -> Generator[list[Any], None, None]:
        data = MarkedList()
        data.pos = _position(self.file, node.start_mark)
        data.item_pos = [self.value_position(item) for item in node.value]
        yield data
        data.extend(self.construct_object(item, deep=True) for item in node.value)


class _Loader(_Marking, yaml.SafeLoader):
    """The pure-Python safe loader: the best error messages."""


_FastLoader: Any = None  # the C and pure-Python loaders share no typed base
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(_Marking, yaml.CSafeLoader):
        """libyaml's C parser: the same nodes and marks, many times faster (its error messages are poorer,
        so a file it rejects is parsed again by _Loader to explain why)."""

    _FastLoader = _CLoader

_loaders: list[Any] = [_Loader] if _FastLoader is None else [_Loader, _FastLoader]
for _loader in _loaders:
    _loader.add_constructor("tag:yaml.org,2002:int", _Marking.construct_yaml_int)
    _loader.add_constructor("tag:yaml.org,2002:float", _Marking.construct_yaml_float)
    _loader.add_constructor("tag:yaml.org,2002:map", _Marking.construct_yaml_map)
    _loader.add_constructor("tag:yaml.org,2002:seq", _Marking.construct_yaml_seq)
    _loader.add_constructor("tag:yaml.org,2002:omap", _Marking.construct_yaml_map)


# An unquoted value that starts with a template: after "key: " or "- " (block), or "[", "," or "{" (flow).
_UNQUOTED_TEMPLATE = re.compile(r"(?:^|(?P<block>[:-])\s|(?P<flow>[\[,{]))\s*(?P<value>\{[{%].*)")
_FLOW_VALUE = re.compile(r"\{[{%].*?[}%]\}[^\s,\]}]*")


def unquoted_template(line: str) -> str | None:
    """The ``{{ ... }}`` or ``{% ... %}`` value a YAML line has unquoted (YAML reads { as a mapping)."""
    for match in _UNQUOTED_TEMPLATE.finditer(line):
        before = line[: match.start("value")]
        if before.count('"') % 2 or before.count("'") % 2:
            continue
        value = match.group("value")
        if match.group("flow") or before.count("{") + before.count("[") > before.count("}") + before.count("]"):
            flow = _FLOW_VALUE.match(value)
            return flow.group(0) if flow else value
        return re.sub(r"\s+#.*$", "", value).rstrip()
    return None


def _quote_hint(template: str) -> str:
    return f'a value that starts with {template[:2]} must be quoted: "{template}"'


def _plain_words(exc: yaml.MarkedYAMLError, lines: list[str]) -> str | None:
    """What a parser error usually means, in plain words: an unquoted template, or the indentation."""
    problem = exc.problem or ""
    for mark in (exc.problem_mark, exc.context_mark):
        if mark is not None and mark.line < len(lines):
            template = unquoted_template(lines[mark.line])
            if template:
                return _quote_hint(template)
    mark = exc.problem_mark
    line = mark.line + 1 if mark else 0
    if "expected <block end>" in problem:
        return (
            f"check the indentation of line {line}: keys of one mapping, and the items of one list, "
            "must start in the same column"
        )
    if "mapping values are not allowed here" in problem:
        return f"line {line} is indented deeper than the key before it, or a value contains ': ' and must be quoted"
    if "could not find expected ':'" in problem:
        return "a line of a mapping is not 'key: value': add the ':' or check the indentation"
    return None


def _bounded(root: yaml.Node, file: str) -> ScenarioError | None:
    """A problem when the node graph is nested too deep, is recursive or expands beyond MAX_NODES.

    Aliases make the graph a DAG (or a cycle): each distinct node is sized once, so a bomb is
    measured in the time its few distinct nodes take, not the billions it would expand to.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children += (k, v)
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if done:
            open_nodes.discard(key)
            sizes[key] = min(MAX_NODES + 1, 1 + sum(sizes[id(c)] for c in children))
            if sizes[key] > MAX_NODES:
                return ScenarioError(
                    _position(file, node.start_mark),
                    f"the aliases (*name) here expand to more than {MAX_NODES:,} values",
                    "an alias bomb? repeat less, or use fragments (use:) instead of aliases",
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            return ScenarioError(_position(file, node.start_mark), "an alias refers to a node that contains it")
        if depth > MAX_DEPTH and children:
            return ScenarioError(
                _position(file, node.start_mark),
                f"nested more than {MAX_DEPTH} levels deep",
                "flatten the structure: move deep parts into fragments (use:)",
            )
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
    return None


class _NotPlain(Exception):
    """A document that :func:`_construct_plain` leaves to the constructor: an alias, a merge key, a tag,
    a problem, or bounds to check."""


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


def _construct_plain(loader: Any, root: yaml.Node, file: str) -> Any:
    """What ``loader.construct_document(root)`` makes of a plain document, in one pass and several times faster.

    Plain: a tree (no node reached twice, so no alias), within MAX_DEPTH and MAX_NODES, of mappings, lists
    and scalars with YAML's standard null, bool, int, float and str tags, with neither a duplicate key, nor a
    merge key, nor a problem. Anything else raises :class:`_NotPlain`, and the document is checked
    (:func:`_bounded`) and constructed as before, which finds the same values, or the same problems.
    """
    seen: set[int] = set()
    count = 0
    value_position = loader.value_position
    bool_values = loader.bool_values
    construct_int = loader.construct_yaml_int
    construct_float = loader.construct_yaml_float
    scalar_node, mapping_node, sequence_node = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode

    def scalar(node: Any) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _INT:
            return construct_int(node)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            value = bool_values.get(node.value.lower())
            if value is None:
                raise _NotPlain
            return value
        if tag == _FLOAT:
            return construct_float(node)
        raise _NotPlain

    def at(node: Any) -> Position:
        if node.__class__ is scalar_node and node.style in ("|", ">"):
            return value_position(node)
        mark = node.start_mark
        return Position(file, mark.line + 1, mark.column + 1)

    def construct(node: Any, depth: int) -> Any:
        nonlocal count
        count += 1
        kind = node.__class__
        if kind is scalar_node:
            return scalar(node)
        key = id(node)
        if key in seen:
            raise _NotPlain
        seen.add(key)
        items = node.value
        if items and depth > MAX_DEPTH:
            raise _NotPlain
        mark = node.start_mark
        if kind is mapping_node:
            if node.tag != _MAP:
                raise _NotPlain
            data = MarkedDict()
            data.pos = Position(file, mark.line + 1, mark.column + 1)
            key_pos: dict[Any, Position] = {}
            value_pos: dict[Any, Position] = {}
            data.key_pos, data.value_pos = key_pos, value_pos
            inner = depth + 1
            for key_node, value_node in items:
                if key_node.__class__ is not scalar_node:
                    raise _NotPlain
                count += 1
                name = scalar(key_node)
                if name in data:
                    raise _NotPlain
                data[name] = construct(value_node, inner)
                if name.__class__ is not str:
                    if not hasattr(data, "spelled"):
                        data.spelled = {}
                    data.spelled[name] = str(key_node.value)
                key_mark = key_node.start_mark
                key_pos[name] = Position(file, key_mark.line + 1, key_mark.column + 1)
                value_pos[name] = at(value_node)
            return data
        if kind is sequence_node and node.tag == _SEQ:
            seq = MarkedList()
            seq.pos = Position(file, mark.line + 1, mark.column + 1)
            seq.item_pos = [at(item) for item in items]
            seq.extend([construct(item, depth + 1) for item in items])
            return seq
        raise _NotPlain

    data = construct(root, 1)
    if count > MAX_NODES or loader.problems:
        raise _NotPlain
    return data


def _load(loader: Any, file: str) -> Any:
    """Compose, check the bounds, then construct."""
    node = loader.get_single_node()
    if node is None:
        return None
    try:
        return _construct_plain(loader, node, file)
    except _NotPlain:
        loader.problems.clear()  # the constructor finds them again
    problem = _bounded(node, file)
    if problem is not None:
        raise ScenarioErrors([problem])
    return loader.construct_document(node)


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> ScenarioErrors:
    line = text.count("\n", 0, exc.position) + 1
    col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    return ScenarioErrors(
        [
            ScenarioError(
                Position(file, line, col),
                f"control character U+{code:04X} is not allowed in YAML",
                'remove it, or write it as an escape ("\\x01") in a double-quoted string',
            )
        ]
    )


def parse_text(text: str, file: str) -> Any:
    """Parse one YAML document; raise :class:`ScenarioErrors` on any problem."""
    try:
        return _parse(text, file)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, file) from None
    except RecursionError:
        raise ScenarioErrors([_too_deep(text, file)]) from None


def _too_deep(text: str, file: str) -> ScenarioError:
    """Where a document too deep to compose goes beyond MAX_DEPTH (the event parser does not recurse)."""
    depth, pos = 0, Position(file, 1, 1)
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH and event.start_mark is not None:
                    pos = _position(file, event.start_mark)
                    break
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return ScenarioError(
        pos, f"nested more than {MAX_DEPTH} levels deep", "flatten the structure: move deep parts into fragments (use:)"
    )


def _parse(text: str, file: str) -> Any:
    if _FastLoader is not None:
        fast = _FastLoader(text)
        fast.file, fast.problems, fast.lines = file, [], text.splitlines()
        try:
            data = _load(fast, file)
        except yaml.reader.ReaderError:
            raise
        except yaml.YAMLError:
            pass  # explained below, by the pure-Python parser
        else:
            if fast.problems:
                raise ScenarioErrors(fast.problems)
            return data
        finally:
            fast.dispose()
    loader = _Loader(text)
    loader.file = file
    loader.problems = []
    loader.lines = text.splitlines()
    try:
        data = _load(loader, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _position(file, mark) if mark else Position(file, 1, 1)
        problem = exc.problem or "invalid YAML"
        hint = None
        if exc.context and exc.context.startswith("while ") and exc.context_mark and exc.problem_mark:
            # Where the unfinished construct began is usually where the mistake is (an unclosed { or ").
            start = _position(file, exc.context_mark)
            hint = f"{exc.context} that starts at line {start.line}, column {start.col}"
        elif exc.context:
            problem = f"{exc.context}, {problem}"
        plain = _plain_words(exc, loader.lines)
        if plain:
            hint = f"{hint}; {plain}" if hint else plain
        if "'\\t'" in problem:
            hint = "indent with spaces: YAML does not allow tabs there"
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        if "constructor for the tag" in problem:  # e.g. !!python/object: only safe, standard tags load
            hint = "scenarios are plain YAML: remove the tag"
        raise ScenarioErrors([ScenarioError(pos, f"{kind}: {problem}", hint)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioErrors([ScenarioError(Position(file, 1, 1), f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise ScenarioErrors(loader.problems)
    return data


def read_file(path: str | Path, files: Confinement | None = None, what: str = "scenario") -> Any:
    """Read and parse a YAML file; a missing or unreadable file is a ScenarioError.

    ``files`` confines where it may be (default: the file's own folder); a file outside, one that
    is not a regular file, or one over :data:`SCENARIO_LIMIT` raises :class:`FileRefused`.
    """
    name = str(path)
    files = files or Confinement.around(Path(path))
    try:
        raw = files.read(Path(path), what, SCENARIO_LIMIT)
    except FileNotFoundError:
        raise ScenarioErrors([ScenarioError(Position(name, 1, 1), "file not found")]) from None
    except OSError as exc:
        raise ScenarioErrors(
            [ScenarioError(Position(name, 1, 1), f"cannot read file: {exc.strerror or exc}")]
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        error = ScenarioError(
            Position(name, line, col), f"not UTF-8 text: byte 0x{byte} here", "save the file as UTF-8"
        )
        raise ScenarioErrors([error]) from None
    return parse_text(text, name)


def position_of(root: Any, path: list[PathItem] | tuple[PathItem, ...], *, key: bool = False) -> Position:
    """The position of the node at ``path`` below ``root``.

    With ``key=True`` the position of the last mapping key is returned instead of
    its value (where an "unknown key" error belongs). A path that leaves the
    marked data stops at the deepest node that has a position.
    """
    node = root
    best: Position = getattr(root, "pos", Position("<unknown>", 1, 1))
    for index, item in enumerate(path):
        last = index == len(path) - 1
        if isinstance(node, MarkedDict) and item in node:
            table = node.key_pos if (key and last) else node.value_pos
            best = table.get(item, best)
            node = node[item]
        elif isinstance(node, MarkedList) and isinstance(item, int) and 0 <= item < len(node):
            best = node.item_pos[item]
            node = node[item]
        else:
            break
    return best


def pos_of(node: Any, default: Position) -> Position:
    """The position a container carries, or ``default`` for a scalar."""
    return getattr(node, "pos", default)
