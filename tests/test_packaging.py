"""An installed wheel carries what the code reads through importlib.resources: the demo
scenario, the Leipzig district list and the migrations."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_the_package_data(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("platzplan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (
        "placement/demo/leipzig-2023-11.json",
        "placement/demo/leipzig-ortsteile.csv",
        "placement/migrations/env.py",
        "placement/migrations/alembic.ini",
    ):
        assert data in names, data
    assert any(n.startswith("placement/migrations/versions/") for n in names)
