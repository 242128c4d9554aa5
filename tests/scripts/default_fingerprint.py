"""The fingerprint of a short OGER run with the default configuration: the logged loss, rewards and OGER metrics
of each step and a SHA-256 of the trained parameters. `tests/test_default_fingerprint.py` compares today's code
with what this script computes, on the same machine, for the tree of the commit before the pluggable bonuses
(issue 15), whose acceptance is "with the defaults, results are bit-identical to today's OGER".

The fingerprint of another tree (its `oger_trl` and `tests/helpers.py` are imported first):

    git worktree add /tmp/before f643c2e
    HF_HUB_OFFLINE=1 python tests/scripts/default_fingerprint.py --tree /tmp/before --output before.json
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

# Logged per step: the loss, the rewards and the OGER metrics the defaults produce (the bonus is paid: the letter
# reward makes rows "correct", so the divergence bonus path runs).
LOGGED = (
    "loss",
    "reward",
    "rewards/accuracy_reward/mean",
    "rewards/letter_reward/mean",
    "oger/divergence/mean",
    "oger/entropy_last/mean",
    "oger/exploration_reward/mean",
    "oger/offline_frac",
)
STEPS = 3


def parameter_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def fingerprint(output_dir: Path) -> dict:
    """Train the tiny policy for STEPS steps with the default OGERConfig on the synthetic arithmetic data."""
    from helpers import build_tokenizer, make_trainer

    from oger_trl import SentenceEncoder

    trainer = make_trainer(output_dir, build_tokenizer(), SentenceEncoder(max_length=128), max_steps=STEPS)
    trainer.train()
    steps = [entry for entry in trainer.state.log_history if "loss" in entry]
    return {
        "logged": [{key: entry[key] for key in LOGGED} for entry in steps],
        "parameters_sha256": parameter_digest(trainer.model),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[2]), help="checkout to fingerprint")
    parser.add_argument("--output", required=True, help="JSON file to write (the trainer's logs go to stdout)")
    cli = parser.parse_args()
    tree = os.path.abspath(cli.tree)
    sys.path[:0] = [tree, os.path.join(tree, "tests")]
    with tempfile.TemporaryDirectory() as output_dir:
        Path(cli.output).write_text(json.dumps(fingerprint(Path(output_dir)), indent=2) + "\n")


if __name__ == "__main__":
    main()
