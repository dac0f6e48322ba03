"""Open scenario files in the real YAML language server and require zero diagnostics.

    python tests/editor_check.py SERVER_JS FILE...

This is what an author sees in VS Code (or any editor using yaml-language-server)
with the ``# yaml-language-server: $schema=...`` line at the top of a scenario.
As a control, a deliberately broken copy of the first file must get diagnostics,
proving the schema is applied. Exit 0 when all is clean, 1 otherwise. CI runs
it (see .ci/run) with yaml-language-server installed from npm.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SETTINGS = {"validate": True, "hover": True, "completion": True, "schemaStore": {"enable": False}}
BROKEN = "  x_unknown_key_for_the_editor_check: true\n"


class Server:
    """yaml-language-server over stdio, speaking just enough LSP to get diagnostics."""

    def __init__(self, script: str) -> None:
        command = ["node", script, "--stdio"]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            headers: dict[str, str] = {}
            while line := stream.readline().decode().strip():
                name, value = line.split(":", 1)
                headers[name.lower()] = value.strip()
            if not headers:
                return
            self.inbox.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        self.process.stdin.flush()

    def diagnostics(self, files: list[Path], timeout: float = 90) -> dict[Path, list[dict[str, Any]]]:
        self.send({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None,
                   "capabilities": {"workspace": {"configuration": True}}}})  # fmt: skip
        by_uri = {file.resolve().as_uri(): file for file in files}
        found: dict[Path, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(files) and time.monotonic() < deadline:
            try:
                message = self.inbox.get(timeout=1)
            except queue.Empty:
                continue
            if message.get("id") == 1 and "result" in message:
                self.send({"method": "initialized", "params": {}})
                self.send({"method": "workspace/didChangeConfiguration", "params": {"settings": {"yaml": SETTINGS}}})
                for uri, file in by_uri.items():
                    document = {"uri": uri, "languageId": "yaml", "version": 1, "text": file.read_text("utf-8")}
                    self.send({"method": "textDocument/didOpen", "params": {"textDocument": document}})
            elif message.get("method") == "workspace/configuration":
                self.send({"id": message["id"], "result": [SETTINGS for _ in message["params"]["items"]]})
            elif "id" in message and "method" in message:
                self.send({"id": message["id"], "result": None})
            elif message.get("method") == "textDocument/publishDiagnostics":
                file = by_uri.get(message["params"]["uri"])
                if file is not None:
                    found[file] = message["params"]["diagnostics"]
        self.process.kill()
        return found


def main(argv: list[str]) -> int:
    script, files = argv[0], [Path(name) for name in argv[1:]]
    with tempfile.TemporaryDirectory(dir=files[0].parent) as scratch:
        control = Path(scratch) / files[0].name
        text = files[0].read_text("utf-8").replace("\nversion: 1\n", "\nversion: 1\n" + BROKEN.strip() + "\n", 1)
        control.write_text(text.replace("$schema=../", "$schema=../../"), "utf-8")
        results = Server(script).diagnostics([*files, control])
        failed = 0
        for file in files:
            diagnostics = results.get(file)
            if diagnostics is None:
                print(f"{file}: no answer from the language server")
                failed += 1
            for diagnostic in diagnostics or []:
                start = diagnostic["range"]["start"]
                print(f"{file}:{start['line'] + 1}:{start['character'] + 1}: {diagnostic['message']}")
                failed += 1
        if not results.get(control):
            print(f"control: a broken copy of {files[0]} got no diagnostics: the schema is not applied")
            failed += 1
    print(f"editor check: {len(files)} files, {failed} problem(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
