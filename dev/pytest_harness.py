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
"""

import logging

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
