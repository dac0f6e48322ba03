"""The benchmark journey written by hand, as a careful Locust author would.

Log in and keep the token; list the products and pick one at random; open it;
put it into the cart with the token. Every response is checked (status and the
JSON it must carry) with ``catch_response``, and the product page is reported
under one ``name``. The same function is the task of an HttpUser and of a
FastHttpUser. ``bench/journey.yaml`` is the same journey as a scenario.
:func:`realistic` is the journey of ``bench/realistic.yaml``, written the same careful way.
"""

from __future__ import annotations

import random
from typing import Any

from locust import FastHttpUser, HttpUser, constant

CREDENTIALS = {"username": "bench", "password": "secret"}


def shop(user: Any) -> None:
    """One run of the journey (the user's ``client`` is requests- or geventhttpclient-based)."""
    client = user.client
    with client.post("/login", json=CREDENTIALS, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            token = response.json()["token"]
        except (ValueError, KeyError, TypeError):
            response.failure("no token in the response")
            return
    with client.get("/products", catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            product_id = random.choice([product["id"] for product in response.json()])
        except (ValueError, KeyError, TypeError, IndexError):
            response.failure("no product ids in the response")
            return
    with client.get(f"/products/{product_id}", name="/products/[id]", catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            if response.json()["id"] != product_id:
                response.failure("wrong product")
                return
        except (ValueError, KeyError, TypeError):
            response.failure("no product in the response")
            return
    with client.post(
        "/cart",
        json={"product_id": product_id, "quantity": 1},
        headers={"Authorization": f"Bearer {token}"},
        catch_response=True,
    ) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            if response.json()["ok"] is not True:
                response.failure("not added to the cart")
        except (ValueError, KeyError, TypeError):
            response.failure("no ok in the response")


def realistic(user: Any) -> None:
    """The realistic journey (``bench/realistic.yaml``): the token in a header on every later request, a saved
    price sent back, a checkout; every response checked as carefully as in :func:`shop`."""
    client = user.client
    with client.post("/login", json=CREDENTIALS, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            document = response.json()
            token, user.user_id = document["token"], document["user_id"]
        except (ValueError, KeyError, TypeError):
            response.failure("no token in the response")
            return
    headers = {"Authorization": f"Bearer {token}"}
    with client.get("/products?limit=20", name="/products", headers=headers, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            product_id = random.choice([product["id"] for product in response.json()])
        except (ValueError, KeyError, TypeError, IndexError):
            response.failure("no product ids in the response")
            return
    url = f"/products/{product_id}"
    with client.get(url, name="/products/[id]", headers=headers, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            product = response.json()
            if product["id"] != product_id:
                response.failure("wrong product")
                return
            price = product["price"]
        except (ValueError, KeyError, TypeError):
            response.failure("no product in the response")
            return
    body = {"product_id": product_id, "price": price, "qty": 1}
    with client.post("/cart", json=body, headers=headers, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"status {response.status_code}")
            return
        try:
            if response.json()["ok"] is not True:
                response.failure("not added to the cart")
                return
        except (ValueError, KeyError, TypeError):
            response.failure("no ok in the response")
            return
    with client.post("/checkout", headers=headers, catch_response=True) as response:
        if response.status_code != 201:
            response.failure(f"status {response.status_code}")
            return
        try:
            if response.json()["status"] != "CREATED":
                response.failure("order not created")
        except (ValueError, KeyError, TypeError):
            response.failure("no status in the response")


class HandwrittenHttp(HttpUser):
    """The journey on Locust's HttpUser (python-requests)."""

    wait_time = constant(0)
    tasks = [shop]


class HandwrittenFast(FastHttpUser):
    """The journey on Locust's FastHttpUser (geventhttpclient)."""

    wait_time = constant(0)
    tasks = [shop]


class RealisticHttp(HttpUser):
    """The realistic journey on HttpUser."""

    wait_time = constant(0)
    tasks = [realistic]


class RealisticFast(FastHttpUser):
    """The realistic journey on FastHttpUser."""

    wait_time = constant(0)
    tasks = [realistic]
