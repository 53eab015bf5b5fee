"""Hub ids (`hf:org/name[@revision]`) -> a local Hugging Face folder, through `huggingface_hub`'s cache.

Why its own module: the Hub is the only network access of checkpoint loading, and its failure modes (package
missing, offline and not cached, no such repository) each need one line that names the fix. Only the files a T5
conversion reads are fetched (config, tokenizer, safetensors weights; PyTorch weights only when a repository has no
safetensors), not the TF/Flax/ONNX copies many repositories also hold.
"""

from __future__ import annotations

from pathlib import Path

from synpt.errors import SynptError

HUB_PREFIX = "hf:"
_METADATA_AND_SAFETENSORS = ["*.json", "*.model", "model.safetensors"]
_PYTORCH_WEIGHTS = ["pytorch_model.bin"]


def is_hub_id(spec: str | Path) -> bool:
    return isinstance(spec, str) and spec.startswith(HUB_PREFIX)


def download_hub_model(spec: str) -> Path:
    """The local snapshot folder of `hf:org/name[@revision]` (downloaded unless cached; offline uses the cache)."""
    repo_id, _, revision = spec[len(HUB_PREFIX) :].partition("@")
    if repo_id.count("/") > 1 or not repo_id.strip("/"):
        raise SynptError(f"{spec!r}: write a Hub model as hf:ORG/NAME (e.g. hf:google-t5/t5-small)")
    try:
        import huggingface_hub
        from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:
        raise SynptError(
            f"{spec}: reading Hub models needs huggingface_hub; install it with `pip install 'synpt[hub]'`"
        ) from None

    def fetch(patterns: list[str]) -> Path:
        return Path(huggingface_hub.snapshot_download(repo_id, revision=revision or None, allow_patterns=patterns))

    try:
        folder = fetch(_METADATA_AND_SAFETENSORS)
        if not (folder / "model.safetensors").is_file():
            folder = fetch(_PYTORCH_WEIGHTS)
    except LocalEntryNotFoundError:
        raise SynptError(
            f"{spec} is not in the Hugging Face cache ({huggingface_hub.constants.HF_HUB_CACHE}) and the Hub cannot "
            f"be reached (offline, or HF_HUB_OFFLINE=1): run `hf download {repo_id}` where there is network (same "
            "HF_HOME), or pass the local folder of the model instead"
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise SynptError(f"{spec}: no such model on the Hugging Face Hub ({type(err).__name__})") from None
    return folder
