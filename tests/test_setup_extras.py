"""What `./setup.sh TARGET` installs, read from setup.sh and pyproject.toml (nothing is installed).

Why: torch 2.13.0 from the public index on Linux is the CUDA build with its own nvidia-* wheels; next to
jax[cuda12]'s CUDA wheels that is gigabytes of a second CUDA stack and a resolver conflict waiting to happen. The GPU
and TPU targets must therefore install no torch, while the CPU target (and so CI) keeps the Hugging Face extras.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

REPO_ROOT = Path(__file__).resolve().parents[1]


def target_extras() -> dict[str, list[str]]:
    """setup.sh's `TARGET) extras="a,b" ;;` lines."""
    text = (REPO_ROOT / "setup.sh").read_text()
    return {target: extras.split(",") for target, extras in re.findall(r'^\s*(\w+)\) extras="([^"]+)"', text, re.M)}


def requirements(extras: list[str]) -> dict[str, str]:
    """Distribution name (lower case, extras stripped) -> requirement string, for the base and `extras`."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return {re.match(r"[A-Za-z0-9_.-]+", spec).group(0).lower(): spec for spec in specs}


def test_setup_targets_are_cpu_gpu_tpu():
    assert set(target_extras()) == {"cpu", "gpu", "tpu"}


@pytest.mark.parametrize("target", ["gpu", "tpu"])
def test_accelerator_installs_pull_no_torch(target):
    installed = requirements(target_extras()[target])
    assert not {name for name in installed if name == "torch" or name.startswith("nvidia-")}, installed
    assert "pytest" in installed and "jax" in installed
    assert f"jax[{'cuda12' if target == 'gpu' else 'tpu'}]==" in " ".join(installed.values())


def test_cpu_install_keeps_the_hugging_face_comparisons():
    installed = requirements(target_extras()["cpu"])
    assert installed["torch"] == "torch==2.13.0" and "transformers" in installed and "pytest" in installed
    assert "jax[cuda12]" not in " ".join(installed.values())
