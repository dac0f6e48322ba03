"""The generic locustfile, shipped with the package: ``locust-scenario run`` passes it to Locust as ``-f``.

It lives in a folder of its own because Locust puts the locustfile's folder on
``sys.path`` while it imports it: from ``engine/`` itself, modules such as
``engine/secrets.py`` would shadow the standard library's.
"""

from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
