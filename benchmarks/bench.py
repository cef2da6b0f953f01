"""Speed and memory, measured by hand (never asserted in tests):

    python benchmarks/bench.py            # all: start-up, long sentence, wide model
    python benchmarks/bench.py --quick    # fewer start-up repeats

Start-up: `encoder explain` on the embedded example against the bare imports it needs.
Work: two generated weight files (written to benchmarks/out/, git-ignored):
- long: 512 tokens, d_model 64, 4 heads, d_ff 256, 2 layers;
- wide: the seed's d_model 512, 8 heads, d_ff 2048, 1 layer, 16 tokens.
For each, per stage (load = read + parse + check, compute, render JSON, render terminal):
wall time and peak traced memory; then the real command end to end (time, peak RSS).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
ENCODER = [sys.executable, "-m", "encoder_cli"]


def weights_file(path: Path, *, d: int, heads: int, d_ff: int, layers: int, vocab: int, seed: int = 0) -> None:
    """A format-1 file with two-decimal values, written as flow rows like a person would."""
    rng = np.random.default_rng(seed)

    def row(v: np.ndarray) -> str:
        return "[" + ", ".join(f"{x:.2f}" for x in v) + "]"

    def matrix(rows: int, cols: int, indent: str) -> str:
        scale = 1 / np.sqrt(rows)
        return "\n".join(f"{indent}- {row(r)}" for r in rng.normal(0, scale, (rows, cols)))

    lines = ["format: 1", f"model: {{heads: {heads}}}", "embeddings:"]
    lines += [f"  w{i}: {row(rng.normal(0, 1, d))}" for i in range(vocab)]
    lines.append("layers:")
    for _ in range(layers):
        lines.append("  - attention:")
        for name in ("W_Q", "W_K", "W_V", "W_O"):
            lines += [f"      {name}:", matrix(d, d, "        ")]
        lines += ["    ffn:", "      W_1:", matrix(d, d_ff, "        "), "      W_2:", matrix(d_ff, d, "        ")]
    path.write_text("\n".join(lines) + "\n")


def measure(label: str, work: Callable[[], Any]) -> Any:
    """Time one run untraced, then trace a second run's peak memory (tracing slows Python 3-5x)."""
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    del result
    tracemalloc.start()
    result = work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {label:<18} {seconds:8.3f} s   peak {peak / 2**20:8.1f} MiB")
    return result


def stages(path: Path, sentence: str) -> None:
    from rich.console import Console

    from encoder_cli import encoder, weights_file
    from encoder_cli.render import json_doc, terminal

    text = path.read_text()
    model = measure("load", lambda: weights_file.parse(text, path.name)[0])
    trace = measure("compute", lambda: encoder.run(model, sentence))
    document = measure("render json", lambda: sum(map(len, json_doc.chunks(trace, trace.steps))))

    def render_terminal() -> str:
        console = Console(file=io.StringIO(), width=120, color_system="truecolor", force_terminal=True)
        for part in terminal.render(trace, trace.steps, precision=3, width=120, max_rows=50):
            console.print(part)
        return console.file.getvalue()  # type: ignore[attr-defined]

    shown = measure("render terminal", render_terminal)
    print(f"  JSON {document / 2**20:.1f} MiB; terminal view {shown.count(chr(10))} lines, {len(trace.steps)} steps")


def command(args: list[str]) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one run of the real command, output discarded."""
    start = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # time runs, not compiles
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, env={**env, "COLUMNS": "120"})
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"{' '.join(args)} exited with {child.returncode}")
    return seconds, usage.ru_maxrss / 1024


def startup(repeat: int) -> None:
    print(f"Start-up (median of {repeat} runs; byte code compiled first, as pip install does)")
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "encoder_cli")]
    )
    runs = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import numpy, yaml, typer, rich": [sys.executable, "-c", "import numpy, yaml, typer, rich"],
        "encoder --version": [*ENCODER, "--version"],
        "encoder explain --help": [*ENCODER, "explain", "--help"],
        "encoder explain": [*ENCODER, "explain"],
        "encoder explain -f json": [*ENCODER, "explain", "-f", "json"],
    }
    for label, args in runs.items():
        times = [command(args)[0] for _ in range(repeat)]
        print(f"  {label:<34} {statistics.median(times) * 1000:7.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer start-up repeats")
    quick = parser.parse_args().quick
    startup(5 if quick else 20)
    OUT.mkdir(exist_ok=True)
    cases = {
        "long": (dict(d=64, heads=4, d_ff=256, layers=2, vocab=512), 512),
        "wide": (dict(d=512, heads=8, d_ff=2048, layers=1, vocab=16), 16),
    }
    for name, (size, n) in cases.items():
        path = OUT / f"{name}.yaml"
        weights_file(path, **size)
        sentence = " ".join(f"w{i}" for i in range(n))
        print(f"\n{name}: {size}, {n} tokens, file {path.stat().st_size / 2**20:.1f} MiB")
        stages(path, sentence)
        for fmt in ("json", "terminal"):
            seconds, rss = command([*ENCODER, "explain", sentence, "-w", str(path), "-f", fmt])
            print(f"  command -f {fmt:<8}  {seconds:8.3f} s   peak RSS {rss:6.0f} MiB")


if __name__ == "__main__":
    main()
