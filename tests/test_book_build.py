"""The whole book builds from scratch with warnings as errors, notebooks executed fresh."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_with_warnings_as_errors_and_links_colab(tmp_path):
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jupyter_book),
            "build",
            "-W",
            "-n",
            "--keep-going",
            "--path-output",
            str(tmp_path),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    html = tmp_path / "_build" / "html"
    assert (html / "index.html").exists()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    colab = (
        f"https://colab.research.google.com/github/{repo}/blob/{branch}/book/routing_graphs.ipynb"
    )
    assert colab in (html / "book" / "routing_graphs.html").read_text()
