"""Hugging Face interop: logits parity (T5 1.0 and 1.1, both conversion directions) and an exact export round trip."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.model import hf
from synpt.model.config import get_config
from synpt.model.t5 import T5, flatten_names, init_params

torch = pytest.importorskip("torch")  # Hugging Face comparisons need the hf extra (./setup.sh gpu leaves it out)
transformers = pytest.importorskip("transformers")

VOCAB = 96


def _batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and decoder inputs with padding in some rows (0 = pad; decoder inputs start with 0)."""
    rng = np.random.default_rng(seed)
    enc = rng.integers(2, VOCAB, (3, 21))
    enc[1, 12:] = 0
    enc[2, 4:] = 0
    dec = rng.integers(2, VOCAB, (3, 9))
    dec[:, 0] = 0
    dec[2, 5:] = 0
    return enc, dec


def _hf_logits(model, enc: np.ndarray, dec: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = model(
            input_ids=torch.tensor(enc),
            attention_mask=torch.tensor((enc > 0).astype(np.int64)),
            decoder_input_ids=torch.tensor(dec),
        )
    return out.logits.numpy()


def _our_logits(params, config, enc, dec) -> np.ndarray:
    return np.asarray(jax.jit(T5(config).apply)({"params": params}, enc, dec))


@pytest.mark.parametrize("projection", ["relu", "gated-gelu"])
def test_hugging_face_weights_give_our_logits(projection):
    torch.manual_seed(0)
    untied = projection == "gated-gelu"
    hf_config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=48, num_layers=2, num_decoder_layers=3, num_heads=4,
        feed_forward_proj=projection, dropout_rate=0.0, tie_word_embeddings=not untied,
    )  # fmt: skip
    hf_config.tie_word_embeddings = not untied
    model = transformers.T5ForConditionalGeneration(hf_config).eval()
    with torch.no_grad():  # HF's default init is tiny; make every weight matter, then tie the input embeddings
        for tensor in model.state_dict().values():
            tensor.normal_(0.0, 0.3)
        model.encoder.embed_tokens.weight.copy_(model.shared.weight)
        model.decoder.embed_tokens.weight.copy_(model.shared.weight)
    params, config = hf.import_hf(model)
    assert config.num_decoder_layers == 3 and config.tie_embeddings == (not untied)
    enc, dec = _batch(1)
    np.testing.assert_allclose(_our_logits(params, config, enc, dec), _hf_logits(model, enc, dec), atol=1e-4, rtol=0)


@pytest.mark.parametrize("preset", ["tiny", "tiny_1_1"])
def test_export_gives_hugging_face_our_logits_and_round_trips_exactly(preset, tmp_path):
    config = get_config(preset, vocab_size=VOCAB, dropout_rate=0.0)
    params = init_params(config, 4)
    hf.write_hf_model(params, config, tmp_path)
    assert (tmp_path / "config.json").is_file() and (tmp_path / "model.safetensors").is_file()
    loaded = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path).eval()
    enc, dec = _batch(2)
    ours = _our_logits(params, config, enc, dec)
    np.testing.assert_allclose(_hf_logits(loaded, enc, dec), ours, atol=1e-4, rtol=0)
    assert np.abs(ours).max() > 1.0  # a non-trivial comparison
    for source in (tmp_path, loaded):
        back, back_config = hf.import_hf(source)
        assert back_config == config
        original, restored = flatten_names(params), flatten_names(back)
        assert original.keys() == restored.keys()
        for name in original:
            np.testing.assert_array_equal(np.asarray(original[name]), restored[name], err_msg=name)


def test_import_rejects_untied_input_embeddings_and_missing_weights():
    config = get_config("tiny", vocab_size=VOCAB, num_encoder_layers=1, num_decoder_layers=1)
    state = hf.to_hf_state_dict(init_params(config, 0), config)
    state["decoder.embed_tokens.weight"] = state["decoder.embed_tokens.weight"] + 1.0
    with pytest.raises(SynptError, match="decoder.embed_tokens.weight"):
        hf.from_hf_state_dict(state, config)
    del state["decoder.embed_tokens.weight"], state["encoder.final_layer_norm.weight"]
    with pytest.raises(SynptError, match="encoder.final_layer_norm.weight"):
        hf.from_hf_state_dict(state, config)
