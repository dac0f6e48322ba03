"""Declarative YAML scenarios compiled into Locust users.

The pipeline runs in one direction, one module per stage::

    source -> validate -> build (model) -> compiler -> users (runtime)

``engine.load`` strings the stages together; ``locustfile.py`` and the
``python -m engine`` command line are thin shells around it. This package
imports nothing on its own, so that checking a file never imports Locust.
"""

__version__ = "0.1.0"  # setup.cfg reads it (version = attr: engine.__version__)
