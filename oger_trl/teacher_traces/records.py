"""What a run has finished, kept across interruptions: one JSON line per finished problem in the work folder, flushed
and synced as each problem finishes. A line cut by a kill is dropped on the next start, and that problem is drawn
again; a finished problem is never drawn twice."""

import json
import os
from collections.abc import Iterator

RECORDS = "records"
SESSIONS = "sessions.jsonl"  # one line per invocation that ended: what it generated, in how long


def work_folder(output: str) -> str:
    return f"{output}.parts"


def read_done(records_dir: str) -> dict[int, dict]:
    """Every finished problem's record in the folder (all shards), by problem index."""
    done: dict[int, dict] = {}
    for name in sorted(os.listdir(records_dir)):
        for record in _read_lines(os.path.join(records_dir, name)):
            done.setdefault(record["index"], record)
    return done


def _read_lines(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.endswith("\n"):  # a line without its newline was cut by a kill
                yield json.loads(line)


class RecordWriter:
    """Appends finished problems to this shard's file; an unfinished last line (a kill) is cut off first."""

    def __init__(self, records_dir: str, shard: tuple[int, int]):
        self.path = os.path.join(records_dir, f"shard-{shard[0]:05d}-of-{shard[1]:05d}.jsonl")
        _drop_partial_line(self.path)

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _drop_partial_line(path: str) -> None:
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def append_session(folder: str, session: dict) -> None:
    with open(os.path.join(folder, SESSIONS), "a", encoding="utf-8") as f:
        f.write(json.dumps(session) + "\n")


def read_sessions(folder: str) -> list[dict]:
    path = os.path.join(folder, SESSIONS)
    return list(_read_lines(path)) if os.path.exists(path) else []
