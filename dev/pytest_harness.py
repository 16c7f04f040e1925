"""pytest plugin of the development harness (loaded by `make test`).

pytest-odoo imports ``odoo.tests`` before it turns Odoo's ``test_enable`` on
(turning it on globally would make Odoo run every at_install test while it
loads the registry), so Odoo logs "Importing test framework, avoid importing
from business modules..." as an ERROR, with a stack trace, at every run. That
record is expected under pytest-odoo and is dropped here; nothing else is.
"""

import logging


class _DropTestFrameworkImportError(logging.Filter):
    def filter(self, record):
        return not (
            record.levelno == logging.ERROR
            and str(record.msg).startswith("Importing test framework")
        )


logging.getLogger("odoo.tests.common").addFilter(_DropTestFrameworkImportError())
