"""The demo store: a realistic JSON HTTP API (shop, inventory, GraphQL) to run load-test scenarios against.

Start it with ``python -m examples.demo_store`` or in-process with :class:`DemoStore`.
"""

from examples.demo_store.app import create_app
from examples.demo_store.server import DemoStore

__all__ = ["DemoStore", "create_app"]
