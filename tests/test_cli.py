"""The CLI dispatcher and the task registry's error messages."""

import pytest

from synpt import cli
from synpt.catalog import get_task
from synpt.errors import SynptError


def test_help_lists_every_command(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_gin_flags_are_split_from_arguments():
    rest, files, search_paths, bindings = cli._split_gin_flags(
        ["pretrain", "--gin_file=a.gin", "--gin_file", "b.gin", "--gin.TRAIN_STEPS=5", "--steps", "3"]
        + ["--gin_search_paths=x,y", "--gin_search_paths", "z"]
    )
    assert rest == ["pretrain", "--steps", "3"]
    assert files == ["a.gin", "b.gin"]
    assert search_paths == ["x", "y", "z"]
    assert bindings == ["TRAIN_STEPS=5"]


def test_malformed_gin_binding_is_a_clear_error():
    with pytest.raises(SynptError, match="--gin.KEY=VALUE"):
        cli._split_gin_flags(["--gin.TRAIN_STEPS"])


def test_unknown_task_lists_valid_names():
    with pytest.raises(SynptError, match="unknown task 'no_such_task'"):
        get_task("no_such_task")
