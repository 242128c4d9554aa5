"""Run TRL's own GRPO test suite (vendored in `trl_tests/`) three ways, offline, and compare:

  A  GRPOTrainer / GRPOConfig as is;
  B  OGERTrainer / OGERConfig with OGER off by default (num_offline_per_group=0, exploration_coef=0), datasets as is;
  C  OGERTrainer / OGERConfig with OGER's defaults, and teacher columns on every training split the tests load.

Each mode is one pytest process (`conformance_plugin.py` does the substitution) writing a junit XML file. The report
gives the totals per mode and every test that passes in A but fails in B or C, with the first line of its failure
message and a label: a documented OGER rejection, a test whose premise mode C's teachers change (`labels.py`), or a
defect.

Examples (from the repository root):
  .venv/bin/python tests/conformance/run.py --fast
  .venv/bin/python tests/conformance/run.py --modes A -k "test_init_minimal or test_train_dataset_format"
  .venv/bin/python tests/conformance/run.py --report conformance.md --junit-dir conformance-junit
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fixtures import default_fixture_dir, hub_cache, read_manifest  # noqa: E402 - HERE first on sys.path
from labels import DEFECT, first_line, label_failure  # noqa: E402

TRL_TESTS = HERE / "trl_tests"
TEST_FILE = TRL_TESTS / "test_grpo_trainer.py"
PYTEST_INI = TRL_TESTS / "pytest.ini"
TRL_SOURCE = "huggingface/trl tests/test_grpo_trainer.py @ f2cd577 (1.10.0.dev0)"
MODES = {
    "A": "GRPOTrainer",
    "B": "OGERTrainer, OGER off",
    "C": "OGERTrainer, OGER on + teachers",
}
# The CI subset (a few minutes for the three modes): construction with default args, one full training run, training
# with evaluation on a split without teachers, a streaming train split, two reward models with their processing
# classes, the paper's loss type, and a documented rejection (normalize_then_sum). Ids relative to the vendored file.
FAST_TESTS = [
    "TestGRPOTrainer::test_init_minimal",
    "TestGRPOTrainer::test_train_dataset_format[standard_prompt_only]",
    "TestGRPOTrainer::test_train_with_eval",
    "TestGRPOTrainer::test_train_with_iterable_dataset",
    "TestGRPOTrainer::test_correct_reward_processing_classes_list",
    "TestGRPOTrainer::test_train_loss_types[dr_grpo-False]",
    "TestGRPOTrainer::test_train_normalize_then_sum_aggregation",
]
OUTCOMES = ("passed", "failed", "error", "skipped")
SEVERITY = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}


@dataclass
class Result:
    outcome: str  # one of OUTCOMES
    message: str = ""  # failure / error / skip message, with the traceback text for labelling
    seconds: float = 0.0


@dataclass
class ModeRun:
    mode: str
    results: dict[str, Result] = field(default_factory=dict)
    wall_s: float = 0.0
    returncode: int | None = None
    log: Path | None = None
    problem: str = ""  # set when the pytest process left no usable report
    properties: dict[str, str] = field(default_factory=dict)  # what the plugin recorded (trainer and config used)

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results.values())


def parse_junit(path: Path) -> dict[str, Result]:
    """Test id ("Class::test[param]") -> Result, from a pytest junit XML file."""
    results = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        parts = classname.split(".")
        key = f"{parts[-1]}::{name}" if len(parts) > 1 else name
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):  # a call failure outranks a teardown error
            element = case.find(tag)
            if element is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = "\n".join(filter(None, [element.get("message", ""), element.text or ""]))
                break
        seconds = float(case.get("time", 0) or 0)
        previous = results.get(key)
        if previous is None or SEVERITY[outcome] > SEVERITY[previous.outcome]:
            results[key] = Result(outcome, message, seconds)
    return results


def pytest_command(mode_junit: Path, args) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(PYTEST_INI),
        "--rootdir",
        str(TRL_TESTS),
        "--confcutdir",
        str(TRL_TESTS),
        "-p",
        "conformance_plugin",
        f"--junitxml={mode_junit}",
        f"--timeout={args.timeout}",
        "-q",
    ]
    if args.k:
        command += ["-k", args.k]
    if args.fast:
        command += [f"{TEST_FILE}::{test}" for test in FAST_TESTS]
    elif args.tests:
        command += [f"{TEST_FILE}::{test}" for test in args.tests]
    else:
        command.append(str(TEST_FILE))
    return command + list(args.pytest_args)


def run_mode(mode: str, junit_dir: Path, fixture_dir: Path, args) -> ModeRun:
    junit = junit_dir / f"mode-{mode}.xml"
    log = junit_dir / f"mode-{mode}.log"
    junit.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        OGER_CONFORMANCE_MODE=mode,
        OGER_CONFORMANCE_FIXTURES=str(fixture_dir),
        HF_HUB_CACHE=str(hub_cache(fixture_dir)),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    command = pytest_command(junit, args)
    run = ModeRun(mode, log=log)
    print(f"\n=== mode {mode} ({MODES[mode]}): {' '.join(command[3:])}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"oger-conformance-cwd-{mode}-"))  # trainers with args=None write here
    start = time.time()
    try:
        with open(log, "w", encoding="utf-8") as out:
            process = subprocess.Popen(
                command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for line in process.stdout:
                out.write(line)
                if not args.quiet:
                    sys.stdout.write(f"[{mode}] {line}")
                    sys.stdout.flush()
            run.returncode = process.wait()
    finally:
        run.wall_s = time.time() - start
        shutil.rmtree(workdir, ignore_errors=True)
    if junit.exists():
        load_junit(run, junit)
    if not run.results:
        run.problem = f"pytest exited with {run.returncode} and no test results: see {log}"
    print(f"=== mode {mode}: exit {run.returncode}, {run.wall_s:.0f}s, log {log}", flush=True)
    return run


def recorded_run(mode: str, junit_dirs: list[Path]) -> ModeRun:
    """A mode's results from the junit files of earlier runs, one folder per part of the suite: a test recorded in
    several folders keeps its result from the last one."""
    run = ModeRun(mode, log=junit_dirs[-1] / f"mode-{mode}.log")
    found = [d / f"mode-{mode}.xml" for d in junit_dirs if (d / f"mode-{mode}.xml").exists()]
    if not found:
        run.problem = f"no mode-{mode}.xml in {', '.join(map(str, junit_dirs))}"
        return run
    for junit in found:
        part = ModeRun(mode)
        load_junit(part, junit)
        run.results.update(part.results)
        run.properties.update(part.properties)
        run.wall_s += sum(float(suite.get("time", 0) or 0) for suite in ET.parse(junit).getroot().iter("testsuite"))
    return run


def load_junit(run: ModeRun, junit: Path) -> None:
    """The results and the plugin's recorded properties (trainer and config used) of a mode's junit file."""
    run.results = parse_junit(junit)
    run.properties = {
        p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property") if p.get("name")
    }


def regressions(runs: dict[str, ModeRun]) -> list[tuple[str, dict[str, Result], str]]:
    """Tests that pass in A and fail (or error) in B or C: (test, {mode: result}, label)."""
    if "A" not in runs:
        return []
    rows = []
    for test, result in runs["A"].results.items():
        if result.outcome != "passed":
            continue
        others = {mode: runs[mode].results.get(test) for mode in ("B", "C") if mode in runs}
        failing = {m: r for m, r in others.items() if r is not None and r.outcome in ("failed", "error")}
        if not failing:
            continue
        labels = {m: label_failure(r.message, test if m == "C" else None) for m, r in failing.items()}
        distinct = sorted(set(labels.values()))
        label = distinct[0] if len(distinct) == 1 else "; ".join(f"{m}: {lab}" for m, lab in labels.items())
        rows.append((test, others, label))
    return rows


def cell(result: Result | None) -> str:
    if result is None:
        return "not run"
    if result.outcome in ("failed", "error"):
        return f"{result.outcome.upper()}: `{first_line(result.message).replace('|', '/').replace('`', '')}`"
    return result.outcome


def report(runs: dict[str, ModeRun], args, fixture_dir: Path) -> str:
    modes = list(runs)
    lines = [
        f"# OGER conformance: TRL's GRPO tests ({TRL_SOURCE})",
        "",
        f"Selection: {'--fast (' + str(len(FAST_TESTS)) + ' tests)' if args.fast else (args.tests or 'all')}"
        + (f", -k {args.k!r}" if args.k else "")
        + f". Fixtures: {fixture_dir}.",
        "",
        "| | " + " | ".join(f"{m}: {MODES[m]}" for m in modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for outcome in OUTCOMES:
        lines.append(f"| {outcome} | " + " | ".join(str(runs[m].count(outcome)) for m in modes) + " |")
    lines.append("| total | " + " | ".join(str(len(runs[m].results)) for m in modes) + " |")
    lines.append("| wall time | " + " | ".join(f"{runs[m].wall_s:.0f} s" for m in modes) + " |")
    for key in ("trainer", "config"):
        lines.append(f"| {key} used | " + " | ".join(f"`{runs[m].properties.get(key, '?')}`" for m in modes) + " |")
    for m in modes:
        if runs[m].problem:
            lines.append(f"\n**Mode {m}: {runs[m].problem}**")
    rows = regressions(runs)
    defects = sum(label == DEFECT or "defect" in label for _, _, label in rows)
    lines += ["", f"## Pass in A, fail in B or C: {len(rows)} ({defects} labelled defect)", ""]
    if rows:
        other = [m for m in ("B", "C") if m in runs]
        lines.append("| test | " + " | ".join(other) + " | label |")
        lines.append("|---|" + "---|" * len(other) + "---|")
        for test, results, label in sorted(rows):
            lines.append(f"| `{test}` | " + " | ".join(cell(results.get(m)) for m in other) + f" | {label} |")
    elif "A" not in runs:
        lines.append("(mode A not run: nothing to compare against)")
    if "A" in runs:
        not_passing = {t: r for t, r in runs["A"].results.items() if r.outcome in ("failed", "error")}
        skipped = [r for r in runs["A"].results.values() if r.outcome == "skipped"]
        stand_in = sum("stand-in not built" in r.message for r in skipped)
        lines += [
            "",
            f"Mode A: {len(not_passing)} failed/error (not compared), {len(skipped)} skipped "
            f"({stand_in} for a stand-in not built: vision models and image datasets).",
        ]
        for test, result in sorted(not_passing.items()):
            lines.append(f"- A {cell(result)} `{test}`")
    tests = sorted({t for m in modes for t in runs[m].results})
    if tests:
        timed = sorted(tests, key=lambda t: -max(runs[m].results.get(t, Result("passed")).seconds for m in modes))
        shown = timed if len(tests) <= 20 else timed[:10]
        lines += ["", "## Per-test time (s)" + ("" if len(tests) <= 20 else ", the 10 slowest"), ""]
        lines.append("| test | " + " | ".join(modes) + " |")
        lines.append("|---|" + "---|" * len(modes))
        for t in shown:
            times = [runs[m].results.get(t) for m in modes]
            lines.append(f"| `{t}` | " + " | ".join("-" if r is None else f"{r.seconds:.1f}" for r in times) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="A,B,C", help="comma-separated modes to run (default: %(default)s)")
    parser.add_argument("-k", default=None, help="pytest -k expression, passed through")
    parser.add_argument("--fast", action="store_true", help=f"only the {len(FAST_TESTS)} tests of the CI subset")
    parser.add_argument("--tests", nargs="+", default=None, help="test ids (Class::test[param]) instead of all")
    parser.add_argument("--timeout", type=int, default=900, help="per-test timeout in seconds (default: %(default)s)")
    parser.add_argument(
        "--junit-dir", type=Path, default=None, help="where junit XML and logs go (default: a temp dir)"
    )
    parser.add_argument("--report", type=Path, default=None, help="also write the markdown report to this file")
    parser.add_argument("--fixtures", type=Path, default=None, help="stand-in fixture folder (default: %(default)s)")
    parser.add_argument("--rebuild-fixtures", action="store_true", help="rebuild the stand-ins first")
    parser.add_argument("--quiet", action="store_true", help="do not echo pytest's output (it stays in the logs)")
    parser.add_argument("--fail-on-defect", action="store_true", help="exit 1 when a test is labelled defect")
    parser.add_argument(
        "--strict", action="store_true", help="--fail-on-defect, and exit 1 when TRL's own trainer (A) fails a test"
    )
    parser.add_argument(
        "--from-junit",
        type=Path,
        nargs="+",
        default=None,
        help="report on the mode-X.xml files already in these folders (modes or parts of the suite run as separate "
        "processes; a test in several folders keeps its result from the last)",
    )
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    args.modes = [m.strip().upper() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {unknown}: use A, B and/or C")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    fixture_dir = (args.fixtures or default_fixture_dir()).expanduser().resolve()
    if args.rebuild_fixtures or read_manifest(fixture_dir) is None:
        build = [sys.executable, str(HERE / "fixtures.py"), "--dir", str(fixture_dir)]
        subprocess.run(build + (["--force"] if args.rebuild_fixtures else []), check=True, stdout=subprocess.DEVNULL)
    if args.from_junit:
        junit_dirs, start = [d.resolve() for d in args.from_junit], time.time()
        junit_dir = ", ".join(map(str, junit_dirs))
        runs = {mode: recorded_run(mode, junit_dirs) for mode in args.modes}
    else:
        junit_dir = (args.junit_dir or Path(tempfile.mkdtemp(prefix="oger-conformance-junit-"))).resolve()
        junit_dir.mkdir(parents=True, exist_ok=True)
        start = time.time()
        runs = {mode: run_mode(mode, junit_dir, fixture_dir, args) for mode in args.modes}
    text = report(runs, args, fixture_dir)
    text += f"\nTotal wall time: {time.time() - start:.0f} s. Junit XML and logs: {junit_dir}.\n"
    print("\n" + text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text, encoding="utf-8")
    if any(run.problem for run in runs.values()):
        return 2
    if (args.fail_on_defect or args.strict) and any("defect" in label for _, _, label in regressions(runs)):
        return 1
    if args.strict and "A" in runs and any(r.outcome in ("failed", "error") for r in runs["A"].results.values()):
        return 1  # the harness itself is broken (fixtures, offline redirects): nothing was compared
    return 0


if __name__ == "__main__":
    sys.exit(main())
