"""pytest plugin of the development harness (loaded by `make test`).

1. pytest-odoo imports ``odoo.tests`` before it turns Odoo's ``test_enable``
   on (turning it on globally would make Odoo run every at_install test while
   it loads the registry), so Odoo logs "Importing test framework, avoid
   importing from business modules..." as an ERROR, with a stack trace, at
   every run. That record is expected under pytest-odoo and is dropped here;
   nothing else is.
2. A test module must be imported as ``odoo.addons.stripe_connector.tests.*``
   or Odoo's test classes break at collection with an obscure AttributeError
   (``test_tags``). pytest derives that name from the ``__init__.py`` files,
   so a test file in a folder without one gets a clear error instead.
3. ``--harness-count-file=PATH`` writes how many tests ran and failed, as
   JSON, for .ci/run to compare with the count of Odoo's own runner
   (dev/test-odoo.sh): a test id counts once, whatever its subtests.
"""

import json
import logging
from pathlib import Path

import pytest


class _DropTestFrameworkImportError(logging.Filter):
    def filter(self, record):
        return not (
            record.levelno == logging.ERROR
            and str(record.msg).startswith("Importing test framework")
        )


logging.getLogger("odoo.tests.common").addFilter(_DropTestFrameworkImportError())


class _NotInPackage(pytest.File):
    """Stands for a test file that cannot be imported under odoo.addons."""

    def collect(self):
        raise self.CollectError(
            f"{self.path.parent} has no __init__.py, so pytest cannot import "
            f"{self.path.name} as odoo.addons.stripe_connector.tests.*, which "
            "Odoo's test classes need. Add an __init__.py there."
        )


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    if not (module_path.parent / "__init__.py").is_file():
        return _NotInPackage.from_parent(parent, path=module_path)
    return None


def pytest_addoption(parser):
    parser.addoption(
        "--harness-count-file",
        metavar="PATH",
        help="write the number of tests run and failed to PATH (JSON)",
    )


def pytest_configure(config):
    path = config.getoption("--harness-count-file")
    if path:
        config.pluginmanager.register(_CountTests(Path(path)), "harness-count")


class _CountTests:
    def __init__(self, path):
        self.path = path
        self.failed = {}  # test id -> whether a phase or a subtest failed

    def pytest_runtest_logreport(self, report):
        self.failed[report.nodeid] = self.failed.get(report.nodeid) or report.failed

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        count = {
            "runner": "pytest",
            "tests": len(self.failed),
            "failed": sum(self.failed.values()),
            "exitstatus": int(exitstatus),
            "args": list(session.config.invocation_params.args),
        }
        self.path.write_text(json.dumps(count) + "\n")
