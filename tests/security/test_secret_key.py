"""Outside production the SECRET_KEY is this installation's own: random, made on first start in
DATA_DIR (readable by the owner only) and reused afterwards, never a constant anyone can read."""

from __future__ import annotations

import os
import stat

from tests.security.test_openapi import manage

PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def secret_key(data_dir) -> str:
    result = manage("shell", "-c", PRINT_KEY, env={"SECRET_KEY": ""}, tmp_path=data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_without_production_each_installation_makes_its_own_secret_key_and_keeps_it(tmp_path):
    first_install, second_install = tmp_path / "one", tmp_path / "two"
    first_install.mkdir()
    second_install.mkdir()

    key = secret_key(first_install)
    assert len(key) >= 50 and "dev-only" not in key
    stored = first_install / "secret_key"
    assert stored.read_text().strip() == key
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600

    assert secret_key(first_install) == key  # the next start reuses it: sessions survive restarts
    assert secret_key(second_install) != key
