"""`synpt export-hf` and `synpt score` end to end: a params checkpoint -> HF folder and teacher-forced log-probs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synpt.cli import main
from synpt.cli.model import read_score_file
from synpt.errors import SynptError
from synpt.model.config import get_config
from synpt.model.scoring import score_examples
from synpt.model.t5 import init_params
from synpt.train.checkpoints import save_params

torch = pytest.importorskip("torch")  # Hugging Face comparisons need the hf extra (./setup.sh gpu leaves it out)
transformers = pytest.importorskip("transformers")

MICRO = dict(vocab_size=384, d_model=32, num_heads=2, head_dim=16, d_ff=64, num_encoder_layers=1, num_decoder_layers=1)
LINES = ["5 6 7\t8 9", "[10, 11, 12, 13, 14, 15, 16, 17, 18]\t[19]", "20\t21 22 23 24 25 26"]


def _hf_logprob(model, inputs: list[int], targets: list[int]) -> float:
    """log P(targets | inputs) from Hugging Face (decoder input = targets shifted right, 0 first)."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([inputs]), decoder_input_ids=torch.tensor([[0, *targets[:-1]]])).logits
    log_probs = torch.log_softmax(logits[0].double(), dim=-1)
    return float(log_probs[torch.arange(len(targets)), torch.tensor(targets)].sum())


def test_export_and_score_commands_agree_with_hugging_face(tmp_path, capsys):
    config = get_config("tiny_1_1", **MICRO)
    ckpt = save_params(tmp_path / "ckpt", init_params(config, 7), config)
    assert main(["export-hf", str(ckpt), str(tmp_path / "hf"), "--task", "g2p"]) == 0  # bytes: 259 ids
    model = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "hf").eval()

    (tmp_path / "examples.tsv").write_text("\n".join(LINES) + "\n")
    capsys.readouterr()
    assert main(["score", "--ckpt", str(ckpt), "--input", str(tmp_path / "examples.tsv"), "--batch-size", "4"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    examples = read_score_file(tmp_path / "examples.tsv", config.vocab_size)
    assert examples[0]["inputs"] == [5, 6, 7, 1] and examples[0]["targets"] == [8, 9, 1]  # EOS appended
    for record, example in zip(records, examples, strict=True):
        assert record["target_tokens"] == len(example["targets"])
        assert record["logprob"] == pytest.approx(_hf_logprob(model, example["inputs"], example["targets"]), abs=1e-3)
        assert record["logprob"] < 0


def test_score_examples_is_independent_of_batching():
    config = get_config("tiny", **MICRO)
    params = init_params(config, 8)
    rng = np.random.default_rng(0)
    examples = [
        {"inputs": [*rng.integers(2, 64, n).tolist(), 1], "targets": [*rng.integers(2, 64, m).tolist(), 1]}
        for n, m in ((3, 2), (6, 5), (1, 7))  # one length bucket (8): one compile for all calls
    ]
    together = score_examples(config, params, examples, batch_size=4)
    apart = [score_examples(config, params, [e], batch_size=4)[0] for e in examples]
    np.testing.assert_allclose(together, apart, atol=1e-5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5 6 7 8", "exactly one tab"),
        ("5 x\t6", "token ids"),
        ("5\t6 999", "outside the model's vocabulary"),
        ("", "no examples"),
    ],
)
def test_score_file_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.tsv"
    path.write_text(text + "\n")
    with pytest.raises(SynptError, match=message) as error:
        read_score_file(path, vocab_size=64)
    assert str(path) in str(error.value)
