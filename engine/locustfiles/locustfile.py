"""Run a YAML scenario with Locust: locust-scenario run scenarios/shop.yaml (or locust -f THIS --scenario FILE)

The scenario compiles into Locust user classes, which become this module's
globals, so every Locust option (web UI, --headless, --processes, master and
workers, --tags, reports) works as with a hand-written locustfile.
"""

from engine.locust_plugin import load_from_command_line

plan = load_from_command_line(__name__)
globals().update(plan.exports())
