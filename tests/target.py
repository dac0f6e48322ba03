"""A small real HTTP API for the engine's tests (Flask on gevent's WSGI server, 127.0.0.1, port 0).

In-process: ``Target.start()`` serves from a greenlet next to Locust's users.
Standalone (for subprocess tests): ``python tests/target.py`` prints the port.
"""

from __future__ import annotations

import itertools
import json
import socket
import sys
import time
from typing import Any

from flask import Flask, Response, jsonify, redirect, request
from gevent import sleep
from gevent.pywsgi import WSGIServer

ITEMS = [
    {"id": 101, "name": "Laptop", "price": 999.5, "category": "Electronics", "tags": ["new", "sale"]},
    {"id": 102, "name": "Novel", "price": 12, "category": "Books", "tags": []},
    {"id": 103, "name": "Lamp", "price": 30, "category": "Home", "tags": ["sale"]},
]
PASSWORD = "secret"


def create_app() -> Flask:
    app = Flask("target")
    tokens: dict[str, int] = {}
    carts: dict[int, list[dict[str, int]]] = {}
    ids = itertools.count(1)

    def current_user() -> int | None:
        auth = request.headers.get("Authorization", "")
        return tokens.get(auth.removeprefix("Bearer "))

    @app.post("/login")
    def login():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        if body.get("password") != PASSWORD or not body.get("username"):
            return jsonify(error="bad credentials"), 401
        user_id = next(ids)
        token = f"tok-{user_id}-{body['username']}"
        tokens[token] = user_id
        response = jsonify(token=token, user={"id": user_id, "name": body["username"]})
        response.set_cookie("session", f"s{user_id}")
        return response

    @app.get("/me")
    def me():  # type: ignore[no-untyped-def]
        user = current_user()
        if user is None:
            return jsonify(error="unauthorized"), 401
        return jsonify(id=user, session=request.cookies.get("session"))

    @app.get("/items")
    def items():  # type: ignore[no-untyped-def]
        found = ITEMS
        if "category" in request.args:
            found = [i for i in ITEMS if i["category"] == request.args["category"]]
        limit = int(request.args.get("limit", len(found)))
        return jsonify(found[:limit])

    @app.get("/items/<int:item_id>")
    def item(item_id: int):  # type: ignore[no-untyped-def]
        for entry in ITEMS:
            if entry["id"] == item_id:
                return jsonify(entry)
        return jsonify(error="not found"), 404

    @app.post("/cart")
    def add_to_cart():  # type: ignore[no-untyped-def]
        user = current_user()
        if user is None:
            return jsonify(error="unauthorized"), 401
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("item_id"), int) or not isinstance(body.get("quantity"), int):
            return jsonify(error="item_id and quantity must be integers"), 422
        cart = carts.setdefault(user, [])
        cart.append({"item_id": body["item_id"], "quantity": body["quantity"]})
        return jsonify(user=user, items=cart), 201

    @app.get("/status/<int:code>")
    def status(code: int):  # type: ignore[no-untyped-def]
        return jsonify(code=code), code

    @app.post("/signup")
    def signup():  # type: ignore[no-untyped-def]
        """422 with the reason in JSON when the body has no ``email`` (as validating APIs answer)."""
        body = request.get_json(silent=True) or {}
        if not body.get("email"):
            return jsonify(error="email is required", field="email"), 422
        return jsonify(id=next(ids), email=body["email"]), 201

    @app.get("/slow")
    def slow():  # type: ignore[no-untyped-def]
        sleep(float(request.args.get("ms", 100)) / 1000)
        return jsonify(slept=True)

    @app.get("/encoded/<charset>")
    def encoded(charset: str):  # type: ignore[no-untyped-def]
        """``{"name": "café ü"}`` in ``charset``, declared in Content-Type (``plain``: UTF-8, no charset)."""
        body = json.dumps({"name": "café ü"}, ensure_ascii=False)
        if charset == "plain":
            return Response(body.encode("utf-8"), content_type="application/json")
        return Response(body.encode(charset), content_type=f"application/json; charset={charset}")

    @app.get("/text")
    def text():  # type: ignore[no-untyped-def]
        return Response("hello order=12345 code=ABC order=67890", mimetype="text/plain")

    @app.get("/redirect")
    def go():  # type: ignore[no-untyped-def]
        return redirect("/items/101", code=302)

    @app.route("/echo", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def echo():  # type: ignore[no-untyped-def]
        return jsonify(
            method=request.method,
            args={k: request.args.getlist(k) for k in request.args},
            headers={k.lower(): v for k, v in request.headers.items()},
            json=request.get_json(silent=True),
            form={k: request.form.getlist(k) for k in request.form},
            body=request.get_data(as_text=True),
            cookies=dict(request.cookies),
        )

    @app.get("/cookies/set")
    def set_cookies():  # type: ignore[no-untyped-def]
        """Each query parameter becomes a cookie; ``then=/path`` answers with a redirect there instead."""
        then = request.args.get("then")
        response = redirect(then, code=302) if then else jsonify(ok=True)
        for name, value in request.args.items():
            if name != "then":
                response.set_cookie(name, value)
        return response

    @app.get("/cookies/delete")
    def delete_cookies():  # type: ignore[no-untyped-def]
        response = jsonify(ok=True)
        for name in request.args:
            response.delete_cookie(name)
        return response

    @app.route("/echo", methods=["HEAD"])
    def echo_head():  # type: ignore[no-untyped-def]
        return Response(status=200, headers={"X-Method": "HEAD"})

    @app.get("/headers")
    def headers():  # type: ignore[no-untyped-def]
        response = jsonify(ok=True)
        response.headers["X-Request-Id"] = "req-42"
        response.headers["Location"] = "/items/102"
        return response

    @app.get("/schema-bad")
    def schema_bad():  # type: ignore[no-untyped-def]
        return Response(json.dumps([{"id": "x", "price": "cheap"}]), mimetype="application/json")

    attempts: dict[str, int] = {}

    @app.get("/flaky/<key>")
    def flaky(key: str):  # type: ignore[no-untyped-def]
        """503 for the first ``fail`` calls (default 1) with this key, then 200; the body counts the calls."""
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] <= int(request.args.get("fail", 1)):
            return jsonify(attempt=attempts[key]), 503
        return jsonify(attempt=attempts[key])

    countdowns: dict[str, list[float]] = {}

    @app.get("/countdown/<key>")
    def countdown(key: str):  # type: ignore[no-untyped-def]
        """Not ready before the ``ready_after``-th call (default 3) with this key; ``gaps``: seconds between calls."""
        calls = countdowns.setdefault(key, [])
        calls.append(time.monotonic())
        ready = len(calls) >= int(request.args.get("ready_after", 3))
        gaps = [round(later - earlier, 4) for earlier, later in itertools.pairwise(calls)]
        return jsonify(ready=ready, attempt=len(calls), gaps=gaps)

    records: dict[str, list[Any]] = {}

    @app.post("/record/<bucket>")
    def record(bucket: str):  # type: ignore[no-untyped-def]
        """Append the JSON body to the list ``bucket`` (tests count what users did, across processes)."""
        entries = records.setdefault(bucket, [])
        entries.append(request.get_json(silent=True))
        return jsonify(count=len(entries)), 201

    @app.get("/record/<bucket>")
    def recorded(bucket: str):  # type: ignore[no-untyped-def]
        """The JSON bodies posted to ``bucket``, in arrival order."""
        return jsonify(records.get(bucket, []))

    @app.get("/health")
    def health():  # type: ignore[no-untyped-def]
        return jsonify(status="ok", time=time.time())

    return app


class _Server(WSGIServer):
    """Sends small responses at once (TCP_NODELAY): no 40 ms delayed-ACK stalls."""

    def handle(self, sock: Any, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


class Target:
    """The app served on 127.0.0.1 at a free port."""

    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), create_app(), log=None, error_log=None)

    def start(self) -> Target:
        self.server.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.stop(timeout=1)


if __name__ == "__main__":
    target = Target().start()
    print(target.server.server_port, flush=True)
    sys.stdout.flush()
    target.server.serve_forever()
