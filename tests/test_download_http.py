"""`synpt data download` / `synpt data check` against a local HTTP server with Range support."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from synpt.cli import main
from synpt.cli.data import check_data_dir, render_check
from synpt.downstream import download as dl
from synpt.errors import SynptError

REPO_ROOT = Path(__file__).resolve().parents[1]


class _Handler(BaseHTTPRequestHandler):
    """Serves `server.files`; honours `Range: bytes=N-`; cuts the first response of `server.interrupt` paths."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        server = self.server
        path = self.path.lstrip("/")
        data = server.files.get(path)
        range_header = self.headers.get("Range")
        server.requests.append((path, range_header))
        if data is None:
            self.send_error(404)
            return
        if server.unavailable:
            server.unavailable -= 1
            self.send_error(503)
            return
        start = 0
        if range_header and server.honour_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if path in server.interrupt:
            server.interrupt.discard(path)
            body = body[: len(body) // 2]
        self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.interrupt, httpd.honour_range, httpd.unavailable = {}, [], set(), True, 0
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _fixture_bytes(entry: dl.ManifestFile, lines: int = 50) -> bytes:
    if entry.format == "id_pairs":
        return "".join(f"[2405, 32099, {i}]\t[{i}]\n" for i in range(lines)).encode()
    if entry.format == "id_list":
        return "".join(f"[{i}, 7, 9]\n" for i in range(lines)).encode()
    if entry.format == "text_pairs":
        return "".join(f"source {i} ünïcode\ttarget {i}\n" for i in range(lines)).encode()
    if entry.format == "squad_json":
        qa = {"id": "q", "question": "Who?", "answers": [{"text": "me"}]}
        return json.dumps({"version": "1.1", "data": [{"paragraphs": [{"context": "me", "qas": [qa]}]}]}).encode()
    raise AssertionError(entry.format)


def _serve_group(server, group: str) -> dict[str, bytes]:
    contents = {}
    for entry in dl.manifest_files([group]):
        if entry.format == "squad_json" and entry.sha256:
            continue  # dev-v1.1.json has a strict checksum: served separately where needed
        contents[entry.path] = server.files[entry.remote if entry.base != "paper_bucket" else entry.path] = (
            _fixture_bytes(entry)
        )
    return contents


def _bases(server) -> dict[str, str]:
    return {"paper_bucket": server.url, "t5_vocab": server.url, "squad": server.url}


def test_manifest_covers_the_bucket_layout():
    paths = {f.path for f in dl.load_manifest()[1]}
    assert len([p for p in paths if p.startswith("pretraining_data/simpler_tasks/")]) == 36
    assert "pretraining_data/lime/abduct_valid.txt" in paths and "pretraining_data/nesting_language/train.txt" in paths
    for task in ("cnndm_10k", "code_translation", "mtop", "retrosynthesis", "webqsp"):
        assert {f"finetuning_data/{task}/{s}.txt" for s in ("train", "valid", "test")} <= paths
    bases = dl.load_manifest()[0]
    assert bases["paper_bucket"]["url"] == "https://storage.googleapis.com/n2formal-public-data/synthetic_pretraining/"
    vocab = next(f for f in dl.load_manifest()[1] if f.group == "vocab")
    assert dl.file_url(vocab) == "https://storage.googleapis.com/t5-data/vocabs/cc_all.32000/sentencepiece.model"


def test_download_finetuning_group_with_an_interrupted_transfer(server, tmp_path):
    contents = _serve_group(server, "pretraining")
    cut = "pretraining_data/simpler_tasks/copy/train.txt"
    server.interrupt.add(cut)
    summary = dl.download(["pretraining"], tmp_path, base_urls=_bases(server), backoff_s=0, progress=False)
    assert len(summary["downloaded"]) == len(contents) == 46
    for path, data in contents.items():
        assert (tmp_path / path).read_bytes() == data
    assert not list(tmp_path.rglob("*.part"))
    requests = [r for r in server.requests if r[0] == cut]
    assert requests[0] == (cut, None) and requests[1] == (cut, f"bytes={len(contents[cut]) // 2}-")
    again = dl.download(["pretraining"], tmp_path, base_urls=_bases(server), progress=False)
    assert again["downloaded"] == [] and len(again["skipped"]) == 46


def test_partial_file_from_an_earlier_run_resumes(server, tmp_path):
    data = b"".join(f"q{i}\ta{i}\n".encode() for i in range(1000))
    server.files["f.txt"] = data
    dest = tmp_path / "f.txt"
    (tmp_path / "f.txt.part").write_bytes(data[:1234])
    entry = dl.ManifestFile("f.txt", "finetuning", "x", "f.txt", "text_pairs")
    dl.download_file(server.url + "f.txt", dest, entry=entry, backoff_s=0, progress=False)
    assert dest.read_bytes() == data
    assert server.requests == [("f.txt", "bytes=1234-")]


def test_complete_part_file_and_server_without_range(server, tmp_path):
    data = b"a\tb\n" * 100
    server.files["f.txt"] = data
    entry = dl.ManifestFile("f.txt", "finetuning", "x", "f.txt", "text_pairs")
    (tmp_path / "done.txt.part").write_bytes(data)  # all bytes already there: the server answers 416
    dl.download_file(server.url + "f.txt", tmp_path / "done.txt", entry=entry, backoff_s=0, progress=False)
    assert (tmp_path / "done.txt").read_bytes() == data
    server.honour_range = False  # a server that ignores Range sends the whole file again: start over
    (tmp_path / "other.txt.part").write_bytes(b"garbage")
    dl.download_file(server.url + "f.txt", tmp_path / "other.txt", entry=entry, backoff_s=0, progress=False)
    assert (tmp_path / "other.txt").read_bytes() == data


def test_missing_remote_file_names_the_url(server, tmp_path):
    with pytest.raises(SynptError, match=r"http://127\.0\.0\.1:\d+/nope\.txt does not exist \(HTTP 404\)"):
        dl.download_file(server.url + "nope.txt", tmp_path / "nope.txt", backoff_s=0, progress=False)
    assert server.requests == [("nope.txt", None)]  # a 404 is not retried


def test_wrong_line_format_is_rejected_and_not_kept(server, tmp_path):
    server.files["f.txt"] = b"this line has no tab\n"
    entry = dl.ManifestFile("f.txt", "finetuning", "x", "f.txt", "text_pairs")
    with pytest.raises(SynptError, match=r"f\.txt:1 is not `source<TAB>target`"):
        dl.download_file(server.url + "f.txt", tmp_path / "f.txt", entry=entry, backoff_s=0, progress=False)
    assert not (tmp_path / "f.txt").exists() and not (tmp_path / "f.txt.part").exists()


def test_server_errors_are_retried(server, tmp_path):
    server.files["f.txt"] = b"a\tb\n"
    server.unavailable = 2
    dl.download_file(server.url + "f.txt", tmp_path / "f.txt", retries=2, backoff_s=0, progress=False)
    assert (tmp_path / "f.txt").read_bytes() == b"a\tb\n" and len(server.requests) == 3


def test_unreachable_server_gives_up_after_retries(tmp_path):
    with pytest.raises(SynptError, match="after 2 attempts"):
        dl.download_file("http://127.0.0.1:9/x.txt", tmp_path / "x.txt", retries=1, backoff_s=0, progress=False)


def test_cli_downloads_the_vocabulary_and_checks_it(server, tmp_path, t5_vocab_path, capsys, monkeypatch):
    from synpt import progress

    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.0)  # off a terminal: a plain line per chunk
    server.files["sentencepiece.model"] = t5_vocab_path.read_bytes()
    code = main(["data", "download", "vocab", "--dest", str(tmp_path), "--vocab-base-url", server.url])
    assert code == 0
    assert "[t5_spiece.model]" in capsys.readouterr().err
    code = main(["data", "download", "vocab", "--dest", str(tmp_path), "--vocab-base-url", server.url, "--force",
                 "--no-progress"])  # fmt: skip
    assert code == 0 and "[t5_spiece.model]" not in capsys.readouterr().err
    assert (tmp_path / "vocab" / "t5_spiece.model").read_bytes() == t5_vocab_path.read_bytes()
    from synpt.vocab import t5_vocabulary

    assert t5_vocabulary(tmp_path).encode("copy") == [2405]


def test_data_check_reports_counts_malformed_and_missing(tmp_path, capsys):
    folder = tmp_path / "finetuning_data" / "mtop"
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text("a\tb\nno tab here\nc\td\n")
    (folder / "valid.txt").write_text("a\tb\n")
    lime = tmp_path / "pretraining_data" / "lime"
    lime.mkdir(parents=True)
    (lime / "induct_train.txt").write_text("[1, 2]\t[3]\n[1, 2]\n[4]\t[5]")
    statuses = {s.path: s for s in check_data_dir(tmp_path)}
    assert (statuses["finetuning_data/mtop/train.txt"].lines, statuses["finetuning_data/mtop/train.txt"].malformed) == (
        3,
        1,
    )
    assert not statuses["finetuning_data/mtop/test.txt"].exists
    assert (
        statuses["pretraining_data/lime/induct_train.txt"].lines,
        statuses["pretraining_data/lime/induct_train.txt"].malformed,
    ) == (3, 1)
    assert main(["data", "check", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "MISSING  finetuning_data/mtop/test.txt" in out
    assert "synpt data download finetuning --dest" in out and "synpt data download vocab --dest" in out
    assert "g2p (built in" in out and "train " in out
    assert "line 2" in render_check(list(statuses.values()), tmp_path)


def test_get_all_data_script_is_valid_bash_and_goes_to_the_repo_root():
    script = (
        REPO_ROOT
        / "run_scripts_to_reproduce_experiments"
        / "data_scripts"
        / "get_all_pretraining_and_finetuning_data.sh"
    )
    assert script.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert "data download all" in script.read_text()


def test_a_base_url_flag_the_group_does_not_use_is_refused(tmp_path, capsys):
    assert main(["data", "download", "vocab", "--dest", str(tmp_path), "--base-url", "http://127.0.0.1:9/"]) == 2
    err = capsys.readouterr().err
    assert "--base-url is not used by 'data download vocab'; its files take --vocab-base-url" in err


def test_download_errors_name_the_right_flag_and_only_an_existing_part_file(server, tmp_path, capsys):
    assert main(["data", "download", "vocab", "--dest", str(tmp_path), "--vocab-base-url", server.url]) == 2
    assert "(HTTP 404); check --vocab-base-url" in capsys.readouterr().err  # the server holds no vocabulary
    with pytest.raises(SynptError, match=r"after 1 attempts \(.*\); run the same command again to try again$"):
        dl.download_file("http://127.0.0.1:9/x.txt", tmp_path / "x.txt", retries=0, backoff_s=0, progress=False)
