"""Fixtures for the ngrnotok integration tests.

Binaries come from $NGRNOTOK_BUILD (default: <repo root>/build). Every
gateway listens on 127.0.0.1:0 (ephemeral ports, read back from its
--ports-file); every process is killed by PID in teardown.
"""

import os
import sys

sys.dont_write_bytecode = True
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import pytest  # noqa: E402

from lib import artifacts as A  # noqa: E402
from lib import procs as P  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long-running tests (1 GiB transfers); run by default")


@pytest.fixture(scope="session")
def binaries():
    missing = P.missing_binaries()
    if missing:
        pytest.fail("ngrnotok binaries not found/executable: %s (build them, or set "
                    "NGRNOTOK_BUILD to the build directory)" % ", ".join(missing),
                    pytrace=False)
    return P.build_dir()


@pytest.fixture
def procs(binaries, tmp_path):
    """A Registry: .gateway(), .tcp_gateway(), .upstream(), .tcp_service(),
    .ws_server(), .web_app(), .client(), .tcp_client(), .tunnel(), .spawn(); all its
    processes are stopped at the end of the test."""
    reg = P.Registry(tmp_path)
    try:
        yield reg
        died = reg.problems()
    finally:
        reg.close()
    # Sanitizer reports printed while stopping count too.
    problems = died or reg.problems(check_exit=False)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def artifacts(request, tmp_path):
    """A directory for what the test leaves to be looked at (lib/artifacts.py)."""
    return A.test_dir(request.node.nodeid, tmp_path)


@pytest.fixture
def gateway(procs):
    return procs.gateway()


@pytest.fixture
def upstream(procs):
    return procs.upstream()


@pytest.fixture
def tunnel(procs):
    """A gateway, an upstream and a client forwarding to it (default
    options)."""
    return procs.tunnel()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for reg in list(P.ACTIVE_REGISTRIES):
            for p in reg.procs:
                rep.sections.append(("process " + p.name, p.describe(60)))
