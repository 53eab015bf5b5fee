"""Download the paper's public data and the T5 vocabulary over plain HTTPS, resumably.

Why not gsutil: the reference copies the bucket with `gsutil -m cp -r`, which needs the Cloud SDK. The bucket is
public, so every object is also an HTTPS URL; the one thing HTTPS cannot do is list a bucket, so the files are
written out in `paper_data_manifest.json` (reference §2.13), each with where it comes from and its line format.

A transfer writes `<file>.part`, resumes it with an HTTP Range request after an interruption (also across runs),
retries transient failures with exponential backoff, checks what it can (size, non-empty, the format of the first
lines, sha256 where known) and only then renames the file into place, so a finished path is always complete.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synpt import progress as display
from synpt.errors import SynptError

logger = logging.getLogger(__name__)

MANIFEST_PATH = Path(__file__).with_name("paper_data_manifest.json")
GROUPS = ("vocab", "finetuning", "pretraining")  # download order: small and most needed first
BASE_FLAGS = {"paper_bucket": "--base-url", "t5_vocab": "--vocab-base-url", "squad": "--squad-base-url"}
"""The `synpt data download` flag that mirrors each manifest base."""
CHUNK_BYTES = 1 << 20
LINES_CHECKED = 5
_USER_AGENT = "synpt-data-download"

_IDS = r"\d+(?:, \d+)*"
LINE_FORMATS: dict[str, tuple[re.Pattern, str]] = {
    "id_pairs": (re.compile(rf"\[{_IDS}\]\t\[(?:{_IDS})?\]"), "[ids]<TAB>[ids]"),
    "id_list": (re.compile(rf"\[{_IDS}\]"), "[ids]"),
    "text_pairs": (re.compile(r"[^\t\n]*\t[^\t\n]*"), "source<TAB>target"),
}
"""Line formats: regex a whole line (without its newline) must match, and how to describe it."""


@dataclass(frozen=True)
class ManifestFile:
    path: str  # relative to the local data directory
    group: str
    base: str
    remote: str  # relative to the base URL
    format: str
    sha256: str | None = None
    sha256_strict: bool = True


def load_manifest() -> tuple[dict[str, dict[str, str]], list[ManifestFile]]:
    """(bases, files) of the packaged manifest."""
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return manifest["bases"], [ManifestFile(**entry) for entry in manifest["files"]]


def manifest_files(groups: Iterable[str]) -> list[ManifestFile]:
    """Manifest entries of `groups` ("pretraining", "finetuning", "vocab"; "all" for every group)."""
    groups = set(groups)
    if "all" in groups:
        groups = set(GROUPS)
    unknown = groups - set(GROUPS)
    if unknown:
        raise SynptError(f"unknown data group(s) {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}, all")
    return sorted((f for f in load_manifest()[1] if f.group in groups), key=lambda f: GROUPS.index(f.group))


def file_url(entry: ManifestFile, base_urls: dict[str, str] | None = None) -> str:
    """The URL of `entry`, with `base_urls` (base name -> URL) overriding the manifest's bases."""
    bases = {name: base["url"] for name, base in load_manifest()[0].items()} | (base_urls or {})
    return bases[entry.base].rstrip("/") + "/" + entry.remote


# ----------------------------------------------------------------------------------------------------------- checks


def check_line(fmt: str, line: str) -> bool:
    """Whether one line (newline stripped) has the line format `fmt`."""
    pattern, _ = LINE_FORMATS[fmt]
    return pattern.fullmatch(line) is not None


def check_file(path: Path, entry: ManifestFile, *, name: str | None = None) -> list[str]:
    """Problems found in a downloaded file (empty list: looks right). Reads only the start of line files.

    `name` is how messages call the file (the final path while it is still `<file>.part`).
    """
    if not path.is_file() or path.stat().st_size == 0:
        return [f"{name or path} is empty"]
    problems = _check_contents(path, entry, name or str(path))
    if entry.sha256 and not problems:
        digest = sha256_of(path)
        if digest != entry.sha256:
            message = f"{name or path}: sha256 {digest} differs from the expected {entry.sha256}"
            if entry.sha256_strict:
                problems.append(message)
            else:
                logger.warning("%s (kept; the expected value is not authoritative)", message)
    return problems


def _check_contents(path: Path, entry: ManifestFile, name: str) -> list[str]:
    problems: list[str] = []
    if entry.format in LINE_FORMATS:
        with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
            for number, line in enumerate(f, 1):
                if number > LINES_CHECKED:
                    break
                if not check_line(entry.format, line.rstrip("\n")):
                    problems.append(f"{name}:{number} is not `{LINE_FORMATS[entry.format][1]}`: {line[:80]!r}")
    elif entry.format == "sentencepiece":
        import sentencepiece as spm

        try:
            size = spm.SentencePieceProcessor(model_file=str(path)).get_piece_size()
        except (RuntimeError, OSError) as err:
            return [f"{name} is not a SentencePiece model: {err}"]
        if size != 32000:
            problems.append(f"{name} has {size} pieces, the T5 vocabulary has 32000")
    elif entry.format == "squad_json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data["data"], list) or not data["data"]:
                raise ValueError("no articles")
        except (ValueError, KeyError, TypeError) as err:
            problems.append(f"{name} is not SQuAD JSON ({err})")
    return problems


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------------- transfer


class _Transient(Exception):
    """A failure worth retrying (connection dropped, 5xx, short read)."""


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes \*/(\d+)")


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _fetch_into(url: str, part: Path, *, timeout: float, progress: bool, flag: str) -> None:
    """Fetch `url` into `part`, continuing from its current size; raises `_Transient` when incomplete.

    `flag` is the command-line flag that sets the URL's base (named in a 404's advice)."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to fetch, or a stale part file: check the total size
            match = _UNSATISFIED_RANGE.match(err.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                return
            part.unlink()
            raise _Transient(f"{part} did not match the remote file; restarting it") from err
        if err.code == 404:
            raise SynptError(f"{url} does not exist (HTTP 404); check {flag} or the manifest entry") from err
        if err.code >= 500 or err.code == 429:
            raise _Transient(f"HTTP {err.code} from {url}") from err
        raise SynptError(f"{url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _Transient(f"cannot reach {url}: {err}") from err
    with response:
        total: int | None
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                part.unlink()
                raise _Transient(f"{url} answered an unexpected range; restarting the file")
            total = None if match.group(3) == "*" else int(match.group(3))
            mode = "ab"
        else:  # 200: the server ignored the Range header, start over
            offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            mode = "wb"
        received = offset
        bar = display.bar(
            total, part.name.removesuffix(".part"), "B", enabled=progress, initial=offset, leave=False, unit_scale=True
        )
        try:
            with open(part, mode) as f:
                while chunk := response.read(CHUNK_BYTES):
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as err:
            raise _Transient(f"transfer of {url} broke at byte {received}: {err!r}") from err
        finally:
            bar.close()
    if total is not None and received != total:
        raise _Transient(f"transfer of {url} stopped at byte {received} of {total}")


def download_file(
    url: str,
    dest: Path,
    *,
    entry: ManifestFile | None = None,
    retries: int = 5,
    backoff_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download `url` to `dest` via `dest.part` (resumed if present), check it, and rename it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            flag = BASE_FLAGS.get(entry.base, "the base URL flag") if entry is not None else "the URL"
            _fetch_into(url, part, timeout=timeout_s, progress=progress, flag=flag)
            break
        except _Transient as err:
            if attempt == retries:
                resume = f"to resume from {part}" if part.exists() else "to try again"
                raise SynptError(
                    f"download of {url} failed after {retries + 1} attempts ({err}); run the same command again "
                    f"{resume}"
                ) from err
            delay = backoff_s * 2**attempt
            logger.warning("%s; retrying in %.1f s", err, delay)
            time.sleep(delay)
    problems = check_file(part, entry, name=str(dest)) if entry is not None else []
    if entry is None and not part.stat().st_size:
        problems = [f"{url} is empty"]
    if problems:
        part.unlink()
        raise SynptError(f"downloaded {url} but it looks wrong: " + "; ".join(problems))
    os.replace(part, dest)
    return dest


def download(
    groups: Sequence[str],
    dest: Path,
    *,
    base_urls: dict[str, str] | None = None,
    force: bool = False,
    retries: int = 5,
    backoff_s: float = 1.0,
    progress: bool = True,
) -> dict[str, Any]:
    """Download every manifest file of `groups` under `dest`; existing files are kept unless `force`.

    Returns {"downloaded": [paths], "skipped": [paths]}.
    """
    entries = manifest_files(groups)
    summary: dict[str, list[str]] = {"downloaded": [], "skipped": []}
    for number, entry in enumerate(entries, 1):
        target = dest / entry.path
        if target.is_file() and target.stat().st_size and not force:
            summary["skipped"].append(entry.path)
            continue
        url = file_url(entry, base_urls)
        if progress:
            print(f"[{number}/{len(entries)}] {url} -> {target}", flush=True)
        download_file(url, target, entry=entry, retries=retries, backoff_s=backoff_s, progress=progress)
        summary["downloaded"].append(entry.path)
    return summary
