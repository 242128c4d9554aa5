"""One teacher's traces, end to end: check everything a user can get wrong, then sample the problems not done yet,
grade each generation as it finishes, and write the OpenR1-format file once every problem is done."""

import dataclasses
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from .. import __version__
from ..data.loading import save_table
from ..data.prepare import THINK_OPEN
from ..errors import UsageError
from ..math_answers import grade_math
from ..paths import check_writable_folder
from ..run_folder import claim_folder, replace_atomically, write_json_atomically
from .engines import Endpoint, EndpointEngine, EndpointError, Generation, LocalEngine, Sampling
from .problems import Columns, ProblemRow, load_problems, shard_slice
from .records import RECORDS, RecordWriter, append_session, read_done, read_sessions, work_folder
from .report import markdown_table, teacher_summary

OUTPUT_EXTENSIONS = (".parquet", ".jsonl")


@dataclass(frozen=True)
class GenerateJob:
    source: str
    output: str
    model: str
    sampling: Sampling
    engine: str = "transformers"  # "vllm", "transformers" or "endpoint"
    teacher: str | None = None  # the name in the report (default: the model's last path part)
    columns: Columns = field(default_factory=Columns)
    split: str = "train"
    limit: int | None = None
    shard: tuple[int, int] = (0, 1)
    batch_size: int = 8
    dtype: str = "auto"
    engine_args: dict = field(default_factory=dict)  # vLLM engine arguments (tensor_parallel_size, ...)
    endpoint: Endpoint | None = None

    @property
    def teacher_name(self) -> str:
        return self.teacher or os.path.basename(self.model.rstrip("/")) or self.model

    def identity(self) -> dict:
        """What the traces depend on: a rerun into the same output must match it (neither the problem selection, nor
        the batching, nor where the engine runs)."""
        return {
            "model": self.model,
            "engine": self.engine,
            "dtype": self.dtype,
            "problems": self.source,
            "split": self.split,
            "columns": dataclasses.asdict(self.columns),
            **dataclasses.asdict(self.sampling),
        }


def check_output(output: str) -> None:
    """A .parquet or .jsonl file in a folder that exists (created here) and can be written."""
    if os.path.splitext(output)[1].lower() not in OUTPUT_EXTENSIONS:
        raise UsageError(f"--output {output!r}: give a .parquet or .jsonl file.")
    check_writable_folder(os.path.dirname(os.path.abspath(output)), "--output's folder")


def selected_problems(job: GenerateJob) -> list[ProblemRow]:
    problems = load_problems(job.source, job.columns, job.split, job.limit)
    if not problems:
        raise UsageError(f"Problems {job.source!r}: no rows to generate for.")
    return problems


def claim(job: GenerateJob) -> tuple[list[ProblemRow], str, str]:
    """Everything checked before a model loads: the output, the problems, the endpoint (reachable, serving the
    model), and the work folder's owner. Returns the problems, the work folder and its records folder."""
    check_output(job.output)
    problems = selected_problems(job)
    if job.engine == "endpoint":
        EndpointEngine(job.endpoint).check()
    folder = work_folder(job.output)
    return problems, folder, claim_folder(folder, job.identity(), RECORDS, "traces")


def generate_traces(job: GenerateJob) -> dict | None:
    """Sample this job's shard; returns the teacher summary once every problem is done (by any shard), else None."""
    problems, folder, records_dir = claim(job)
    mine = [problems[i] for i in shard_slice(len(problems), job.shard)]
    done = done_records(records_dir, problems, job.source)
    todo = [row for row in mine if row.index not in done]
    print(f"{job.teacher_name}: {len(mine) - len(todo)} of {len(mine)} problems already done ({_shard_name(job)})")
    if todo:
        sample(load_engine(job), todo, job, folder, records_dir)
    return finish(job, problems, folder, records_dir)


def done_records(records_dir: str, problems: list[ProblemRow], source: str) -> dict[int, dict]:
    """The finished problems, each checked against the source's row of the same index: a source edited under the
    same path would otherwise pair old traces with new problems."""
    done = read_done(records_dir)
    for row in problems:
        record = done.get(row.index)
        if record is not None and (record["problem"], record["answer"]) != (row.problem, row.answer):
            raise UsageError(
                f"Problems {source!r}, row {row.index + 1} is not the problem this output's traces were drawn for "
                f"({record['problem'][:60]!r}): the source changed. Give another --output."
            )
    return done


def load_engine(job: GenerateJob):
    if job.engine == "endpoint":
        return EndpointEngine(job.endpoint)
    from ..evaluation.generation import make_backend

    vllm_args = {"seed": job.sampling.seed, **job.engine_args} if job.engine == "vllm" else {}
    return LocalEngine(make_backend(job.engine, job.model, dtype=job.dtype, **vllm_args), job.batch_size)


def sample(engine, todo: list[ProblemRow], job: GenerateJob, folder: str, records_dir: str) -> None:
    writer, started, tokens = RecordWriter(records_dir, job.shard), time.time(), 0
    progress = tqdm(total=len(todo), desc=job.teacher_name, unit="problem")

    def on_done(row: ProblemRow, generations: list[Generation]) -> None:
        nonlocal tokens
        writer.write(trace_record(row, generations))
        tokens += sum(g.num_tokens for g in generations)
        progress.set_postfix_str(f"{tokens / max(time.time() - started, 1e-9):.0f} tokens/s")
        progress.update()

    try:
        engine.run(todo, job.sampling, on_done)
    except EndpointError as err:
        raise EndpointError(
            f"{err} {progress.n} of {len(todo)} problems were finished and saved in {folder!r}; run the same command "
            "again to continue where it stopped."
        ) from err
    finally:
        progress.close()
        seconds = time.time() - started
        append_session(
            folder,
            {"shard": f"{job.shard[0]}/{job.shard[1]}", "problems": progress.n, "tokens": tokens, "seconds": seconds},
        )


def trace_record(row: ProblemRow, generations: list[Generation]) -> dict:
    """A finished problem in OpenR1-Math-220k's columns, graded by the package's grader (a thinking trace counts only
    by what follows its `</think>`; a trace cut by the token budget has no final answer and counts as wrong), with what
    an audit needs: each generation's finish reason and token count."""
    texts = [g.text for g in generations]
    return {
        "index": row.index,
        "problem": row.problem,
        "answer": row.answer,
        "solution": row.solution,
        "generations": texts,
        "correctness_math_verify": [
            g.finish_reason != "length"
            and grade_math(g.text, row.answer, think_gate=g.text.startswith(THINK_OPEN)).correct
            for g in generations
        ],
        "finish_reasons": [g.finish_reason for g in generations],
        "generation_tokens": [g.num_tokens for g in generations],
    }


def finish(job: GenerateJob, problems: list[ProblemRow], folder: str, records_dir: str) -> dict | None:
    """Write the output (rows in the source's order) and its sidecar once all problems are done."""
    done = read_done(records_dir)
    missing = [row.index for row in problems if row.index not in done]
    if missing:
        print(
            f"{len(problems) - len(missing)} of {len(problems)} problems done; the other shards will finish the file."
        )
        return None
    records = [done[row.index] for row in problems]
    summary = teacher_summary(job.teacher_name, records)
    replace_atomically(job.output, lambda path: save_table(_dataset(records), path))  # shards may finish together
    metadata = {
        "oger_trl": __version__,
        "teacher": job.teacher_name,
        "run": job.identity(),
        "summary": summary,
        "sessions": read_sessions(folder),
    }
    write_json_atomically(metadata, sidecar_path(job.output))
    print(markdown_table([summary]))
    print(f"{len(records)} problems written to {job.output} (settings and summary in {sidecar_path(job.output)})")
    return summary


def sidecar_path(output: str) -> str:
    return f"{os.path.splitext(output)[0]}.meta.json"


def _dataset(records: list[dict]):
    from datasets import Dataset

    columns = [c for c in records[0] if c != "index" and (c != "solution" or any(r[c] for r in records))]
    return Dataset.from_list([{c: r[c] for c in columns} for r in records])


def _shard_name(job: GenerateJob) -> str:
    return f"shard {job.shard[0]}/{job.shard[1]}"


def launch_data_parallel(job: GenerateJob, argv: list[str], processes: int, devices_per_process: int) -> dict | None:
    """`--data-parallel-size N` for the local engines: N processes of this command, each with its own `--shard I/N`
    and its own slice of the visible GPUs; vLLM's offline engine cannot do data parallelism in one process. When all
    have ended, the file is written once more with every shard's session."""
    import torch

    gpus = torch.cuda.device_count()
    if gpus and gpus < processes * devices_per_process:
        raise UsageError(
            f"--data-parallel-size {processes} x --tensor-parallel-size {devices_per_process} needs "
            f"{processes * devices_per_process} GPUs; {gpus} are visible."
        )
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(gpus)))).split(",")
    children = []
    for shard in range(processes):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(
                visible[shard * devices_per_process : (shard + 1) * devices_per_process]
            )
        command = [sys.executable, "-m", "oger_trl.cli", "generate", *argv]
        command += ["--data-parallel-size", "1", "--shard", f"{shard}/{processes}"]  # the last value of each wins
        children.append(subprocess.Popen(command, env=env))
    failed = [shard for shard, child in enumerate(children) if child.wait() != 0]
    if failed:
        raise UsageError(
            f"shard(s) {failed} of {processes} failed (see above); rerun the same command to finish them."
        )
    problems, folder, records_dir = claim(job)
    return finish(job, problems, folder, records_dir)
