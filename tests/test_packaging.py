"""The built distribution carries every subpackage and the files the app reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("server", "plugins", "workers", "admin", "migrators", "monitoring")


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = out.glob("talentreel-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_every_python_package_is_in_the_wheel(wheel_names):
    for top in SUBPACKAGES:
        for init in (ROOT / top).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = "talentreel/" + init.relative_to(ROOT).as_posix()
            assert rel in wheel_names, f"{rel} missing: add its package to setup.cfg [options] packages"


def test_runtime_files_are_in_the_wheel(wheel_names):
    wanted = [p for p in (ROOT / "server" / "templates").rglob("*.html")]
    wanted += list((ROOT / "server" / "static").rglob("*.*"))
    wanted += list((ROOT / "server" / "translations").rglob("*.mo"))
    wanted += list((ROOT / "admin" / "templates").rglob("*.html"))
    wanted += list((ROOT / "plugins" / "taxonomy").glob("*.toml"))
    wanted += list((ROOT / "server" / "ingest" / "static").glob("*.js"))
    assert wanted
    for path in wanted:
        rel = "talentreel/" + path.relative_to(ROOT).as_posix()
        assert rel in wheel_names, f"{rel} missing: add it to setup.cfg [options.package_data]"


def test_console_script_is_declared(wheel_names):
    entry_points = next(n for n in wheel_names if n.endswith("entry_points.txt"))
    assert entry_points
