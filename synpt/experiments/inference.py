"""The fine-tuning run's decoded evals: the trainer's `on_eval` hook (beam-decode, score, keep a few predictions)."""

from __future__ import annotations

from synpt.atomic import write_json_atomic
from synpt.errors import SynptError
from synpt.experiments.plan import RunSpec
from synpt.train.distributed import is_main_process
from synpt.train.trackers import Trackers, markdown_table

PREDICTIONS_TO_KEEP = 20  # decoded examples written per eval step (the reference keeps 3), for a look at outputs
# (also the trackers' text summary "predictions" of the "inference" event, as T5X writes them to TensorBoard)


class InferenceEval:
    """The trainer's `on_eval` hook: beam-decode the evaluation set, score it, keep a few predictions.

    The evaluation set is the first EVALUATOR_NUM_EXAMPLES examples of the decode split in file order (reference
    §4.7, quirk 13), trimmed to the feature lengths, with the references the metric wants (quirk 15).
    """

    def __init__(self, spec: RunSpec, *, progress: bool = False, trackers: Trackers | None = None):
        self.progress, self.trackers = progress, trackers
        self.task, self.settings, self.knobs = spec.task, spec.settings, spec.knobs
        self.model_config, self.vocabulary, self.out = spec.model_config, spec.vocabulary, spec.out
        self.examples, self.references = spec.task.evaluation_set(
            spec.settings.decode_split,
            data_dir=spec.data_dir,
            limit=spec.settings.evaluator_num_examples,
            input_length=spec.settings.input_length,
            target_length=spec.settings.target_length,
        )
        if not self.examples:
            raise SynptError(
                f"task {spec.task.name}: the {spec.settings.decode_split} split is empty; nothing to decode"
            )

    def __call__(self, step: int, params) -> dict[str, float]:
        from synpt.model.decoding import decode_examples

        ids = decode_examples(
            self.model_config,
            params,
            self.examples,
            batch_size=self.settings.batch_size,
            max_decode_length=self.settings.max_decode_length,
            beam_size=self.knobs.beam_size,
            alpha=self.knobs.alpha,
            input_length=self.settings.input_length,
            progress=self.progress,
        )
        predictions = [self.vocabulary.decode(list(x)) for x in ids]
        metrics = self.task.compute_metrics(predictions, self.references)
        shown = [
            {"input": self.vocabulary.decode(list(ex["inputs"])), "prediction": pred, "reference": ref}
            for ex, pred, ref in zip(self.examples, predictions, self.references, strict=True)
        ][:PREDICTIONS_TO_KEEP]
        if is_main_process():
            write_json_atomic(self.out / "predictions" / f"step_{step}.json", shown)
            if self.trackers is not None:
                self.trackers.text("inference", step, "predictions", markdown_table(shown))
        return metrics
