"""Hostile run names, keys and ids are shown as text on every page, in Chromium."""

from __future__ import annotations

EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_KEY = '"><img src=x onerror=alert(2)>'
EVIL_ID = 'q"><i>'

