"""`TrainConfig`: everything that defines a training run besides its data; importable without JAX.

Why its own module: planning a run (`synpt finetune`'s plan, the gin macros of `synpt train` / `synpt pretrain`)
builds a TrainConfig before anything touches a device, so the config is kept apart from the loop (trainer.py).
Its defaults are the one statement of the paper's pre-training run (reference §4.5): `synpt pretrain` takes its
defaults from them (gin_config.PRETRAIN_DEFAULTS) and configs/runs/pretrain.gin states the same values (tested).
"""

from __future__ import annotations

import dataclasses

from synpt.errors import SynptError
from synpt.model.config import T5Config, get_config

PADDINGS = ("bucket", "pack", "fixed")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run besides its data. Defaults are the paper's pre-training (§4.5),
    except `padding="bucket"` (reference quirk 18: identical loss, less padding; "fixed" reproduces 512/512)."""

    model: str | T5Config = "t5_small"
    steps: int = 80_000
    batch_size: int = 128
    learning_rate: float | None = None  # constant schedule: the LR; rsqrt: a multiplier (default 1, the paper's)
    schedule: str = "rsqrt"
    warmup_steps: int = 10_000
    z_loss: float = 0.0
    dropout_rate: float = 0.1
    input_length: int = 512
    target_length: int = 512
    padding: str = "bucket"
    eval_period: int = 5_000
    eval_batches: int | None = 20  # None: every eval example once; else cycle the examples to this many batches
    checkpoint_every: int = 5_000
    keep_checkpoints: int | None = None  # None keeps all (the paper keeps all)
    log_every: int = 100
    seed: int = 0
    grad_accum: int = 1
    dtype: str | None = None  # activation dtype override: "float32" or "bfloat16" (float16 is refused)
    model_parallel: int = 1

    def validate(self) -> None:
        import jax

        from synpt.train.schedules import SCHEDULES

        positive = ("steps", "batch_size", "eval_period", "checkpoint_every", "log_every", "grad_accum")
        for name in (*positive, "input_length", "target_length", "model_parallel"):
            if getattr(self, name) < 1:
                raise SynptError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.padding not in PADDINGS:
            raise SynptError(f"padding {self.padding!r} is not valid; choose one of {', '.join(PADDINGS)}")
        if self.schedule not in SCHEDULES:
            raise SynptError(f"schedule {self.schedule!r} is not valid; choose one of {', '.join(SCHEDULES)}")
        if self.batch_size % self.grad_accum:
            raise SynptError(f"batch_size {self.batch_size} must be divisible by grad_accum {self.grad_accum}")
        data_parallel = jax.device_count() // self.model_parallel
        if (self.batch_size // self.grad_accum) % data_parallel:
            raise SynptError(
                f"the micro-batch ({self.batch_size} / grad_accum {self.grad_accum}) must be divisible by the "
                f"{data_parallel} data-parallel devices; change batch_size or grad_accum"
            )
        if self.z_loss < 0:
            raise SynptError(f"z_loss must be >= 0, got {self.z_loss}")
        self.model_config()  # unknown preset, float16, bad dropout rate: SynptError from the model config

    def model_config(self) -> T5Config:
        overrides = {"dropout_rate": self.dropout_rate}
        if self.dtype is not None:
            overrides["dtype"] = self.dtype
        return get_config(self.model, **overrides)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if isinstance(self.model, T5Config):
            d["model"] = self.model.to_dict()
        return d
