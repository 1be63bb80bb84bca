"""Installing pathcost never replaces a torch that is already there (the Colab promise).

A throwaway venv gets a torch first: a minimal stand-in distribution of an old release,
2.1.0, so that a lower bound set too high would make pip replace it. Then pathcost is
installed with ordinary dependency resolution (no --no-deps) and torch must be unchanged.
"""

import base64
import hashlib
import shutil
import subprocess
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD_TORCH = "2.1.0"


def stand_in_torch_wheel(folder: Path) -> Path:
    """A valid wheel named torch, version OLD_TORCH, whose module only knows its version."""
    files = {
        "torch/__init__.py": f'__version__ = "{OLD_TORCH}"\n',
        f"torch-{OLD_TORCH}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: torch\nVersion: {OLD_TORCH}\n"
        ),
        f"torch-{OLD_TORCH}.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: pathcost-tests\n"
            "Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = f"torch-{OLD_TORCH}.dist-info/RECORD"
    lines = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        lines.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[record] = "\n".join(lines + [f"{record},,"]) + "\n"
    wheel = folder / f"torch-{OLD_TORCH}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def test_installing_pathcost_keeps_the_installed_torch(tmp_path):
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = str(env / "bin" / "python")

    def pip(*args):
        return subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )

    assert pip(str(stand_in_torch_wheel(tmp_path))).returncode == 0
    source = tmp_path / "pathcost"  # a copy, so the build leaves nothing in the work tree
    for part in ("src", "pyproject.toml", "README.md"):
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy
        copy(ROOT / part, source / part)
    result = pip(str(source))
    assert result.returncode == 0, result.stderr[-2000:]
    check = subprocess.run(
        [
            python,
            "-c",
            "import importlib.metadata as m, torch; "
            "print(torch.__version__, m.version('pathcost'))",
        ],
        capture_output=True,
        text=True,
    )
    assert check.stdout.split() == [OLD_TORCH, "0.1.0"], check.stderr[-2000:]
