"""Training FLOPs of a T5 (reference §8.1): matrix multiplies only, forward + backward = 3 × forward.

Why per token and per stack: an input token only passes through the encoder (and the decoder's cross-attention key
and value projections of its encoding), a target token only through the rest of the decoder and the LM head, so
`6 · N_total · (L_in + L_out)` overestimates by 2-2.7×. MFU logging multiplies these by the tokens processed.
"""

from __future__ import annotations

from synpt.model.config import T5Config


def weights_per_token(config: T5Config) -> tuple[int, int]:
    """(N_enc_tok, N_dec_tok): the matrix weights one input / one target token is multiplied with.

    N_enc_tok = encoder attention + MLP kernels + the decoder's cross-attention key and value kernels;
    N_dec_tok = decoder self-attention (q, k, v, o) + cross-attention (q, o) + MLP + LM head (V × d, even when tied).
    """
    d, inner = config.d_model, config.inner_dim
    mlp = (3 if config.feed_forward == "gated-gelu" else 2) * d * config.d_ff
    attention = 4 * d * inner
    encoder = config.num_encoder_layers * (attention + mlp) + config.num_decoder_layers * 2 * d * inner
    decoder = config.num_decoder_layers * (attention + 2 * d * inner + mlp) + config.vocab_size * d
    return encoder, decoder


def flops_per_token(config: T5Config) -> tuple[int, int]:
    """Training FLOPs (6 × weights) per encoder token and per decoder token, attention scores excluded."""
    encoder, decoder = weights_per_token(config)
    return 6 * encoder, 6 * decoder


def train_flops_per_example(config: T5Config, input_length: int, target_length: int) -> int:
    """Training FLOPs of one example with `input_length` encoder and `target_length` decoder tokens:
    6·(N_enc·L_in + N_dec·L_out) + 12·d_inner·(n_enc·L_in² + n_dec·L_out² + n_dec·L_in·L_out)."""
    encoder, decoder = flops_per_token(config)
    attention = (
        12
        * config.inner_dim
        * (
            config.num_encoder_layers * input_length**2
            + config.num_decoder_layers * target_length**2
            + config.num_decoder_layers * input_length * target_length
        )
    )
    return encoder * input_length + decoder * target_length + attention
