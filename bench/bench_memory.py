"""Peak memory of the grader while it grades a submission that answers with the largest arrays allowed.

Every function of the generated submission returns arrays of
``wire.MAX_ELEMENTS`` random float64 values (one for the array functions, two
for the training functions, three for ``Net``): the largest answers the
wire carries, each reply some 20-60 MB of JSON. The grader's process (not the
sandboxed child, which has its own address-space limit) must stay bounded:
it keeps only decoded answers, at most ``runner.MEMO_MAX_ELEMENTS`` numbers,
so its peak is one reply being decoded plus a constant, whatever the number
of checks.

    .venv/bin/python bench/bench_memory.py

Each measurement runs ``grader grade`` in a fresh process and reads its own
peak RSS (``ru_maxrss``) at exit. A script, not a test.

Measured (2 shared cores, numpy 2.4.6): reference 61 MB, largest arrays
303 MB. The bound does not grow with the number of checks: the raw reply
(``max_reply_bytes``, 64 MiB by default), its text, at most
``wire.MAX_MESSAGE_VALUES`` parsed values (~32 bytes each) and the memo
(``runner.MEMO_MAX_ELEMENTS`` float64) - about 350 MB above the baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LARGEST = textwrap.dedent('''
    """Every function answers with the largest arrays the wire carries (1,000,000 elements each)."""
    import numpy as np


    def _big():
        return np.random.rand(1000, 1000)


    def relu(h): return _big()
    def softmax(z): return _big()
    def forward_np(x, w1, w2, mask=None, p=0.0): return _big()
    def loss_np(y, target): return _big()
    def grad_w1_np(x, target, w1, w2, mask=None, p=0.0): return _big()
    def grad_w2_np(x, target, w1, w2, mask=None, p=0.0): return _big()
    def train_np(x, target, w1, w2, masks, lr=0.01, p=0.4): return _big(), _big()
''')
LARGEST_TORCH = textwrap.dedent('''
    import torch


    def _big():
        return torch.rand(1000, 1000)


    class Net(torch.nn.Module):
        def __init__(self, w1, w2, p):
            super().__init__()
            self.linear1 = torch.nn.Linear(1, 1000 * 1000, bias=False)
            self.linear2 = torch.nn.Linear(1, 1000 * 1000, bias=False)

        def forward(self, x, mask=None):
            return _big()


    def forward_torch(x, w1, w2): return _big()
    def grad_w1_torch(x, target, w1, w2): return _big()
    def train_torch(x, target, w1, w2, masks, lr=0.01, p=0.4): return _big(), _big()
''')

MEASURE = textwrap.dedent('''
    import json, resource, sys, time
    from pathlib import Path
    from grader.grading import GradingOptions, grade
    start = time.perf_counter()
    report = grade(Path(sys.argv[1]), GradingOptions())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": round(peak_mb), "score": report.score, "seconds": round(time.perf_counter() - start, 1),
                      "internal_errors": len(report.internal_errors),
                      "statuses": sorted({c.status for c in report.checks})}))
''')


def measure(submission: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", MEASURE, str(submission)], capture_output=True, text=True,
                            cwd=submission.parent, timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"grading {submission} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        largest = Path(temporary) / "largest"
        largest.mkdir()
        (largest / "numpy_net.py").write_text(LARGEST)
        (largest / "torch_net.py").write_text(LARGEST_TORCH)
        for name, path in (("reference (baseline)", ROOT / "reference"), ("largest arrays", largest)):
            figures = measure(path)
            print(f"{name:22} peak RSS {figures['peak_rss_mb']:5d} MB  score {figures['score']:g}  "
                  f"{figures['seconds']} s  internal errors {figures['internal_errors']}  "
                  f"statuses {figures['statuses']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
