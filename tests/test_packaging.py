"""`pip install .` gives a wheel that works outside the repository."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_holds_every_package_template_and_static_file(tmp_path):
    # Build from a copy of the tracked files: building in the work tree
    # would leave build/ and *.egg-info behind.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"portal/{p.relative_to(source / 'portal')}"
        for pattern in ("*.py", "*.mo")
        for p in (source / "portal").rglob(pattern)
    }
    expected |= {
        f"portal/{p.relative_to(source)}"
        for top in ("templates", "static")
        for p in (source / top).rglob("*")
        if p.is_file()
    }
    expected.add("portal/migrations/script.py.mako")
    assert expected - names == set()

    # Installed outside the repository, the app finds its templates and
    # static files and its migrations run.
    target, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    script = """
import portal, sys
from portal import create_app
from portal.db import make_engine
from portal.migrations import upgrade
assert portal.__file__.startswith(sys.argv[1]), portal.__file__
app = create_app({"SECRET_KEY": "x", "DATABASE_URL": "sqlite:///installed.sqlite3"})
upgrade(make_engine(app.config["DATABASE_URL"]))
client = app.test_client()
assert client.get("/").status_code == 200
assert client.get("/static/css/portal.css").status_code == 200
print("ok")
"""
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "PORTAL_INSTANCE_PATH": str(elsewhere / "instance")}
    result = subprocess.run(
        [sys.executable, "-c", script, str(target)], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "ok", result.stderr
