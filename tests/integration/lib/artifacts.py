"""Where a test keeps what a person may want to look at afterwards (screenshots): under
$NGRNOTOK_ARTIFACTS/<test name>/ when that is set (.ci/run sets it to <build>/test-artifacts),
else in the test's own temporary directory (pytest keeps the last few runs')."""

import os
import re
from pathlib import Path

ENV = "NGRNOTOK_ARTIFACTS"


def test_dir(nodeid, tmp_path):
    """The artifacts directory of the test nodeid (created). tmp_path: the test's own
    temporary directory, used when $NGRNOTOK_ARTIFACTS is not set."""
    root = os.environ.get(ENV)
    if not root:
        d = Path(tmp_path) / "artifacts"
    else:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("/")[-1]).strip("_")
        d = Path(root) / name
    d.mkdir(parents=True, exist_ok=True)
    return d
