"""The demo store's GraphQL (graphql-core) through ``graphql`` steps, with both clients: introspection
answers, and a query against an unknown field is a validation error in ``errors`` (HTTP 200, data null).
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


@pytest.mark.parametrize("client", CLIENTS)
def test_introspection_and_a_validation_error(harness, store, client):
    h = harness(
        scenario(
            """
            - graphql: {query: "query Roots { __schema { queryType { name } mutationType { name } } }"}
              expect:
                status: 200
                json:
                  $.data.__schema.queryType.name: Query
                  $.data.__schema.mutationType.name: Mutation
                  $.errors: {exists: false}
            - graphql:
                query: "query Fields($name: String!) { __type(name: $name) { fields { name } } }"
                variables: {name: Product}
                operation: Fields
              expect:
                json: {"$.data.__type.fields[*].name": [id, name, description, price, category, quantity]}
            - graphql: {query: "{ categories { id } nope }"}
              name: unknown field, checked
              expect:
                status: 200
                json:
                  $.data: null
                  $.errors[0].message: Cannot query field "nope" on type "Query".
                  $.errors[0].locations[0].column: 21
            - graphql: {query: "{ categories { id } nope }"}
              name: unknown field, unchecked
              expect: {status: 200}
            """,
            client,
        ),
        host=store.url,
    )
    h.journey(h.user())
    assert counts(h) == {
        ("POST", "/graphql"): (1, 0),
        ("POST", "graphql Fields"): (1, 0),
        ("POST", "unknown field, checked"): (1, 0),
        ("POST", "unknown field, unchecked"): (1, 1),
    }
    assert messages(h) == ["graphql: the response has errors"]
