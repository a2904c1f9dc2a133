"""The package as a user gets it: the built wheel installed into a fresh virtual environment
runs `newsmon demo` and `newsmon init` from an empty folder, with no checkout anywhere near.

Slow (builds a wheel and installs every dependency; pip takes them from its find-links or the
package registry)."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEWSMON_", "PYTHON", "VIRTUAL_ENV")) and not k.lower().endswith("_proxy")}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv with the wheel built from this checkout installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(REPO)],
         cwd=tmp)
    wheels = list((tmp / "dist").glob("newsmon-*.whl"))
    assert len(wheels) == 1, wheels
    _run([sys.executable, "-m", "venv", str(tmp / "venv")], cwd=tmp)
    bin_dir = tmp / "venv" / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheels[0])], cwd=tmp)
    return bin_dir


def test_wheel_installs_one_namespace_with_its_data(installed: Path) -> None:
    purelib = _run([str(installed / "python"), "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=installed).stdout
    site = Path(purelib.strip())
    assert not any((site / name).exists() for name in ("crawler", "enrich", "index", "config"))
    for data in ("defaults/newsmon.toml", "defaults/init/alerts.yaml", "defaults/demo/sources.yaml",
                 "demo/site/www.harbour-times.example/index.html", "crawler/extract/__init__.py",
                 "serve/web/index.html", "serve/web/app.js", "serve/web/app.css",
                 "serve/web/alerts.html", "serve/web/alerts.js", "py.typed"):
        assert (site / "newsmon" / data).is_file(), data
    assert sysconfig.get_paths()["purelib"] != str(site)  # not this test's own environment


def test_demo_and_init_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    demo = _run([str(installed / "newsmon"), "demo"], cwd=empty)
    assert "Warning" not in demo.stderr and "Warning" not in demo.stdout, demo.stderr[-3000:]
    assert "Traceback" not in demo.stderr
    assert (empty / "data" / "demo" / "newsmon.db").is_file()  # in the current folder
    status = _run([str(installed / "newsmon"), "--config", "data/demo/newsmon.toml", "status",
                   "--json"], cwd=empty)
    assert '"articles": 11' in status.stdout.replace("\n", " ") or '"articles":11' in status.stdout

    init = _run([str(installed / "newsmon"), "init", "monitor"], cwd=empty)
    assert "wrote" in init.stdout
    assert sorted(p.name for p in (empty / "monitor").iterdir()) == [  # and nothing else
        "alerts.yaml", "newsmon.toml", "sources.yaml"]
    status = _run([str(installed / "newsmon"), "--config", "monitor/newsmon.toml", "status"],
                  cwd=empty)
    assert "not created yet" in status.stdout
