"""The harness itself: a journey chaining a token and an id through three requests."""

from __future__ import annotations

import pytest

CLIENTS = ["http", "fast"]


@pytest.mark.parametrize("client", CLIENTS)
def test_token_and_id_chain_through_three_requests(harness, client):
    h = harness(
        f"""
        version: 1
        defaults: {{client: {client}}}
        users:
          Buyer:
            on_start:
              - post: /login
                json: {{username: ann, password: secret}}
                save: {{token: $.token}}
            journeys:
              buy:
                steps:
                  - get: /items
                    save: {{item_id: "$[1].id"}}
                  - get: /items/{{{{ item_id }}}}
                    expect: {{json: {{"$.name": Novel}}}}
                  - post: /cart
                    headers: {{Authorization: "Bearer {{{{ token }}}}"}}
                    json: {{item_id: "{{{{ item_id }}}}", quantity: 2}}
                    expect:
                      status: 201
                      json: {{"$.items[0].item_id": 102, "$.items[0].quantity": 2}}
        """
    )
    user = h.user()
    h.journey(user, times=2)
    assert h.errors() == []
    assert h.requests("/login", "POST") == 1
    assert h.requests("/items") == 2
    assert h.requests("/items/{item_id}") == 2
    assert h.requests("/cart", "POST") == 2
