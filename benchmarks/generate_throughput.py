"""Teacher-trace throughput of `oger-trl generate`, engine against engine on the same problems and settings: problems
per minute and generated tokens per second while sampling (model loading excluded, and shown apart), one engine after
the other in one run, never side by side.

    python benchmarks/generate_throughput.py                       # SmolLM2 on 20 GSM8K train problems, vLLM vs transformers
    python benchmarks/generate_throughput.py --engines transformers --limit 2   # (the test suite runs a small one)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from helpers import shared_path  # noqa: E402


def measure(engine: str, args: argparse.Namespace, workdir: str) -> dict:
    output = os.path.join(workdir, f"{engine}.jsonl")
    command = [
        sys.executable, "-m", "oger_trl.cli", "generate", "--problems", args.problems, "--problem-column", "question",
        "--model", args.model, "--engine", engine, "--limit", str(args.limit), "--n", str(args.n),
        "--max-new-tokens", str(args.max_new_tokens), "--batch-size", str(args.limit), "--output", output,
    ]  # fmt: skip
    started = time.time()
    subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.time() - started
    with open(os.path.join(workdir, f"{engine}.meta.json")) as f:
        meta = json.load(f)
    (session,) = meta["sessions"]
    return {
        "engine": engine,
        "problems": session["problems"],
        "tokens": session["tokens"],
        "sampling_s": session["seconds"],
        "wall_s": wall,
        "problems_per_min": 60 * session["problems"] / session["seconds"],
        "tokens_per_s": session["tokens"] / session["seconds"],
        "accuracy": meta["summary"]["accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="offline:SmolLM2-135M-Instruct")
    parser.add_argument("--problems", default=shared_path("data", "gsm8k", "train.jsonl"))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--engines", nargs="+", default=["vllm", "transformers"], choices=["vllm", "transformers"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        rows = [measure(engine, args, workdir) for engine in args.engines]
    print(f"{args.model}, {args.limit} problems x {args.n} samples, at most {args.max_new_tokens} new tokens\n")
    print("| engine | problems/min | tokens/s | sampling (s) | wall incl. load (s) | tokens | accuracy |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['engine']} | {r['problems_per_min']:.1f} | {r['tokens_per_s']:.1f} | {r['sampling_s']:.3f} | "
            f"{r['wall_s']:.1f} | {r['tokens']} | {100 * r['accuracy']:.1f}% |"
        )
    if len(rows) == 2:
        print(
            f"\n{rows[0]['engine']}/{rows[1]['engine']} tokens/s ratio: {rows[0]['tokens_per_s'] / rows[1]['tokens_per_s']:.2f}"
        )


if __name__ == "__main__":
    main()
