"""``graphql`` request steps against the demo store's real ``POST /graphql`` (in-process), and the
response names (``json``, ``status``, ``headers``) in ``expect`` templates.

Values that steps save in ``on_start`` are read from the user's variables;
outcomes are read from Locust's statistics and error table, exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runtime_support import CLIENTS, counts, messages, scenario

from examples.demo_store.server import DemoStore


@pytest.fixture(scope="module")
def store() -> Iterator[DemoStore]:
    server = DemoStore(port=0).start()
    yield server
    server.stop()


PRODUCTS = """
- graphql:
    query: >-
      query Products($category: String, $limit: Int) {
      products(category: $category, limit: $limit) { id name price category } }
      query Categories { categories { name } }
    variables: {category: "{{ category }}", limit: "{{ limit }}"}
    operation: Products
  expect:
    status: 200
    json:
      $.data.products: {length: "{{ limit }}"}
      $.data.products[*].category: ["{{ category }}", "{{ category }}"]
      $.data.products[0].price: {type: number, gt: 0}
  save:
    ids: {jsonpath: "$.data.products[*].id", pick: all}
    first_name: $.data.products[0].name
"""


@pytest.mark.parametrize("client", CLIENTS)
def test_query_with_variables_and_operation(harness, store, client):
    h = harness(
        scenario(
            """
            - graphql:
                query: "query One($id: Int!) { product(id: $id) { id name } }"
                variables: {id: "{{ ids[1] }}"}
              name: product by id
              expect:
                json: {$.data.product.id: "{{ ids[1] }}", $.data.product.name: {type: string}}
            """,
            client,
            top="vars: {category: Books, limit: 2}",
            on_start=PRODUCTS,
        ),
        host=store.url,
    )
    user = h.user()
    ids = user.vars["ids"]
    assert len(ids) == 2
    assert all(isinstance(i, int) for i in ids)
    assert isinstance(user.vars["first_name"], str)
    h.journey(user, times=2)
    assert messages(h) == []
    assert counts(h) == {("POST", "graphql Products"): (1, 0), ("POST", "product by id"): (2, 0)}


@pytest.mark.parametrize("client", CLIENTS)
def test_an_answer_with_errors_fails_unless_expect_checks_them(harness, store, client):
    h = harness(
        scenario(
            """
            - graphql: {query: "query Me { me { id } }", operation: Me}
              on_failure: continue
            - graphql: {query: "{ me { id } }"}
              name: me, errors expected
              expect:
                json:
                  $.errors[0].extensions.code: UNAUTHENTICATED
                  $.data.me: null
            - graphql: {query: "{ nope }", url: /graphql}
              name: bad field
              on_failure: continue
              expect: {status: 200}
            - graphql: {query: "{ categories { name } }"}
              name: errors must be absent
              expect: {json: {$.errors: {exists: false}}}
            """,
            client,
        ),
        host=store.url,
    )
    h.journey(h.user())
    assert counts(h) == {
        ("POST", "graphql Me"): (1, 1),
        ("POST", "me, errors expected"): (1, 0),
        ("POST", "bad field"): (1, 1),
        ("POST", "errors must be absent"): (1, 0),
    }
    assert messages(h) == ["graphql: the response has errors", "graphql: the response has errors"]


@pytest.mark.parametrize("client", CLIENTS)
def test_mutation_with_a_token_from_login(harness, store, client):
    h = harness(
        scenario(
            """
            - graphql:
                query: >-
                  mutation Add($productId: Int!, $quantity: Int!) {
                  addToCart(productId: $productId, quantity: $quantity) {
                  itemCount totalValue items { productId quantity } } }
                variables: {productId: "{{ product_id }}", quantity: 2}
                operation: Add
              expect:
                json:
                  $.data.addToCart.itemCount: "{{ json.data.addToCart['items'][0].quantity }}"  # one line
                  $.data.addToCart.items[0].productId: "{{ product_id }}"
                  $.data.addToCart.items[0].quantity: {ge: 2}
              save: {quantity: "$.data.addToCart.items[0].quantity"}
            - graphql: {query: "query Me { me { id username } }", operation: Me}
              expect:
                json: {$.data.me.id: "{{ user_id }}", $.data.me.username: "{{ username }}"}
            """,
            client,
            on_start="""
            - post: /user-api/register
              json: {username: "gql_{{ uuid()[:12] }}", email: gql@example.com, password: secret123}
              expect: {status: 201}
              save: {user_id: $.id, username: $.username}
            - post: /user-api/login
              json: {username: "{{ username }}", password: secret123}
              save: {token: $.access_token}
            - headers: {Authorization: "Bearer {{ token }}"}
            - graphql: {query: "{ products(category: \\"Books\\", limit: 1) { id } }"}
              save: {product_id: "$.data.products[0].id"}
            """,
        ),
        host=store.url,
    )
    user = h.user()
    assert user.vars["token"]
    h.journey(user, times=2)
    assert messages(h) == []
    assert counts(h) == {
        ("POST", "/user-api/register"): (1, 0),
        ("POST", "/user-api/login"): (1, 0),
        ("POST", "/graphql"): (1, 0),  # no operation, no name: the path
        ("POST", "graphql Add"): (2, 0),
        ("POST", "graphql Me"): (2, 0),
    }

    anonymous = harness(
        scenario(
            """
            - graphql:
                query: "mutation { addToCart(productId: 1, quantity: 1) { itemCount } }"
              name: anonymous add
            """,
            client,
        ),
        host=store.url,
    )
    anonymous.journey(anonymous.user())
    assert counts(anonymous) == {("POST", "anonymous add"): (1, 1)}
    assert messages(anonymous) == ["graphql: the response has errors"]


# ---------------------------------------------------------------------------------------------------------------
# response names in expect templates


@pytest.mark.parametrize("client", CLIENTS)
def test_expectations_compare_fields_of_the_same_response(harness, client):
    h = harness(
        scenario(
            """
            - post: /echo
              name: totals
              json: {subtotal: 30, shipping: 5, total: 35, items: [10, 20], currency: EUR}
              expect:
                json:
                  $.json.total: "{{ json.json.subtotal + json.json.shipping }}"
                  $.json.subtotal: "{{ json.json['items'] | sum }}"
                  $.json.items: {length: "{{ json.json['items'] | length }}"}
                  $.method: "{{ 'POST' if status == 200 else 'no' }}"
            - get: /headers
              expect:
                headers: {Location: "/items/{{ 100 + 2 }}"}
                json: {$.ok: "{{ headers['X-Request-Id'] == 'req-42' and headers['location'] == '/items/102' }}"}
            - get: /status/201
              name: status code
              expect:
                status: 201
                json: {$.code: "{{ status }}"}
                body_contains: '"code":{{ status }}'
            - post: /echo
              name: wrong total
              on_failure: continue
              json: {subtotal: 30, shipping: 5, total: 36}
              expect:
                json: {$.json.total: "{{ json.json.subtotal + json.json.shipping }}"}
            - get: /status/202
              name: wrong status
              expect: {status: 202, json: {$.code: "{{ status + 1 }}"}}
            """,
            client,
        )
    )
    h.journey(h.user())
    assert counts(h) == {
        ("POST", "totals"): (1, 0),
        ("GET", "/headers"): (1, 0),
        ("GET", "status code"): (1, 0),
        ("POST", "wrong total"): (1, 1),
        ("GET", "wrong status"): (1, 1),
    }
    assert messages(h) == [
        "$.code: expected == {{ status + 1 }}",
        "$.json.total: expected == {{ json.json.subtotal + json.json.shipping }}",
    ]
