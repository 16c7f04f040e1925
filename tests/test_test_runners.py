"""The module's tests as Odoo's own runner (``odoo-bin --test-tags``) and
pytest-odoo (``make test``) see them: the same tests, and nothing that breaks
the test run of another module in a database where this one is installed."""

import unittest
from pathlib import Path

from odoo.tests import BaseCase, loader, tagged
from odoo.tests.tag_selector import TagsSelector

MODULE = "stripe_connector"


@tagged("post_install", "-at_install")
class TestTestRunners(BaseCase):
    def test_every_test_file_is_imported(self):
        """pytest collects every tests/test_*.py file, Odoo only those that
        tests/__init__.py imports."""
        on_disk = sorted(path.stem for path in Path(__file__).parent.glob("test_*.py"))
        imported = sorted(
            module.__name__.rpartition(".")[2]
            for module in loader.get_test_modules(MODULE)
        )
        self.assertEqual(imported, on_disk, "imported in tests/__init__.py")

    def test_every_test_class_is_an_odoo_test_case(self):
        """Odoo's tag selector reads ``test_module`` on every test of every
        installed module: a plain unittest.TestCase crashes the whole run."""
        selector = TagsSelector(f"/{MODULE}")
        for module in loader.get_test_modules(MODULE):
            for name, value in vars(module).items():
                if not (
                    isinstance(value, type)
                    and issubclass(value, unittest.TestCase)
                    and value.__module__ == module.__name__
                ):
                    continue
                with self.subTest(test_class=f"{module.__name__}.{name}"):
                    self.assertTrue(issubclass(value, BaseCase))
                    self.assertEqual(value.test_module, MODULE)
        tests = [
            test
            for module in loader.get_test_modules(MODULE)
            for test in loader.get_module_test_cases(module)
        ]
        self.assertTrue(tests)
        self.assertTrue(all(selector.check(test) for test in tests))

    def test_both_runners_collect_the_same_tests(self):
        """Odoo runs the test methods a class defines itself, in the module
        that defines it; pytest also runs inherited test methods, and the
        classes a test file imports: neither may add a test."""
        for module in loader.get_test_modules(MODULE):
            odoo_ids = {test.id() for test in loader.get_module_test_cases(module)}
            pytest_ids = {
                f"{module.__name__}.{name}.{method}"
                for name, value in vars(module).items()
                if isinstance(value, type)
                and issubclass(value, unittest.TestCase)
                and getattr(value, "__test__", True)
                for method in unittest.TestLoader().getTestCaseNames(value)
            }
            with self.subTest(module=module.__name__):
                self.assertEqual(pytest_ids, odoo_ids)
