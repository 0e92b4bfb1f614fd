"""``forkpoint ui``: a local, read-only web UI over a store (see ``server.py`` for the JSON API)."""
