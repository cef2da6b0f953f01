"""Time and memory of the runs issue #11 found too slow or too big, measured by hand (never
asserted in tests):

    python benchmarks/hostile.py                  # all but the runs at the work bound
    python benchmarks/hostile.py --bound [--bert DIR]   # also runs at the bound (minutes, GBs);
                                                  # DIR: a BERT-base-sized checkpoint folder

- `--full` of 300 tokens: one 300 x 300 heatmap, every table whole, and the JSON of the run;
- a 60,000-character token in the terminal view and the LaTeX handout (label cutting);
- /dev/zero as --weights and as stdin (the read stops past 256 MiB);
- `init` of the largest model the flags allow (refused at once) and of one near the limit.
Each line: exit status, wall time, peak RSS of the real command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
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
        if bert:
            sentence = " ".join(["the cat sat"] * 170)  # 512 tokens with [CLS] and [SEP]
            run = [*ENCODER, "explain", sentence, "--model", bert]
            measure("BERT-base, 512 tokens: -f json", [*run, "-f", "json"], timeout=600)
            measure("BERT-base, 512 tokens: terminal view", run, timeout=600)


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
