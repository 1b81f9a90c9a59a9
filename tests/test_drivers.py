"""A process configured for SQLite does not load the PostgreSQL driver (config/drivers.py); one
configured for PostgreSQL does. Each case is a fresh interpreter, as the product's processes are."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.processes import ROOT

PROBE = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
import rest_framework.serializers, designer.engine
loaded = "psycopg" in sys.modules
try:
    import psycopg
    error = None
except ImportError as exc:
    error = str(exc)
print(json.dumps({"loaded": loaded, "error": error}))
"""


def probe(tmp_path, **env):
    base = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "SQLITE_PATH": str(tmp_path / "db.sqlite3")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**base, **env}, capture_output=True,
                         text=True, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_sqlite_process_neither_loads_nor_imports_the_postgresql_driver(tmp_path):
    result = probe(tmp_path)
    assert result["loaded"] is False
    assert "this process uses SQLite" in result["error"]
    assert "DATABASE_URL" in result["error"]


def test_a_postgresql_process_imports_the_driver(tmp_path):
    result = probe(tmp_path, DATABASE_URL="postgres://nobody@127.0.0.1:1/nothing")
    assert result["error"] is None
