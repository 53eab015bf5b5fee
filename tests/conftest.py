"""Shared test fixtures: where the real data of ../shared lives, skipping cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; the test is skipped when it does not exist."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (real data lives in ../shared beside the repository)")
    return path


@pytest.fixture
def shared_data_dir() -> Path:
    """../shared/data, laid out like synpt's data directory (finetuning_data/, squad/, vocab/)."""
    return shared_path("data")


@pytest.fixture
def t5_vocab_path() -> Path:
    """The real T5 SentencePiece model."""
    return shared_path("data", "vocab", "t5_spiece.model")


@pytest.fixture
def golden_samples_dir() -> Path:
    """The reference implementation's 10 sample lines per simple task."""
    return shared_path("reference", "simple_tasks_samples")
