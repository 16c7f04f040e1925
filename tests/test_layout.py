"""The module's layout, as README.rst's *Layout* section draws it: models grouped
by domain (``models/<domain>/``, imported in a fixed order by models/__init__.py),
each domain extending only the models of the domains imported before it, and
defining each model once."""

import ast
from pathlib import Path

from odoo.tests import BaseCase, tagged

MODULE_ROOT = Path(__file__).resolve().parent.parent
MODELS = MODULE_ROOT / "models"


def _imported_names(init_file):
    """The submodules an ``__init__.py`` imports, in order."""
    names = []
    for node in ast.parse(init_file.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module:
            names.extend(alias.name for alias in node.names)
    return names


def _model_classes(path):
    """``(class name, defined model or None, [extended models])`` of a file's
    Odoo model classes."""
    classes = []
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs = {}
        for statement in node.body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
                if isinstance(target, ast.Name) and target.id in ("_name", "_inherit"):
                    attrs[target.id] = ast.literal_eval(statement.value)
        if not attrs:
            continue
        inherit = attrs.get("_inherit") or []
        inherit = [inherit] if isinstance(inherit, str) else list(inherit)
        name = attrs.get("_name") or inherit[0]
        classes.append((node.name, name, inherit, "_name" in attrs))
    return classes


def _domains():
    """``[(domain, [file paths in import order])]`` in import order."""
    return [
        (
            domain,
            [
                MODELS / domain / f"{name}.py"
                for name in _imported_names(MODELS / domain / "__init__.py")
            ],
        )
        for domain in _imported_names(MODELS / "__init__.py")
    ]


@tagged("post_install", "-at_install")
class TestLayout(BaseCase):
    def test_models_are_grouped_by_domain(self):
        """Every file of models/ is in a domain package that models/__init__.py
        imports, and every file of a domain is imported."""
        self.assertEqual(
            sorted(path.name for path in MODELS.glob("*.py")), ["__init__.py"]
        )
        domains = _domains()
        self.assertEqual(
            [domain for domain, _files in domains][:2],
            ["core", "payments"],
            "core first, then the payments every later domain books with",
        )
        for domain, files in domains:
            with self.subTest(domain=domain):
                on_disk = sorted(
                    path.name
                    for path in (MODELS / domain).glob("*.py")
                    if path.name != "__init__.py"
                )
                self.assertEqual(sorted(path.name for path in files), on_disk)

    def test_each_model_is_defined_once_per_domain(self):
        """A domain holds one class per model: it never overrides itself."""
        for domain, files in _domains():
            seen = {}
            for path in files:
                for class_name, model, _inherit, _new in _model_classes(path):
                    with self.subTest(domain=domain, model=model):
                        self.assertNotIn(
                            model,
                            seen,
                            f"{model} is in {seen.get(model)} and {path.name}",
                        )
                    seen[model] = f"{path.name}:{class_name}"

    def test_a_domain_extends_only_earlier_domains(self):
        """A model of the module is defined (``_name``) in one domain; the domains
        that extend it come after it in models/__init__.py, and a file that
        extends a model of its own domain comes after the file defining it."""
        domains = _domains()
        defined = {}
        for index, (domain, files) in enumerate(domains):
            for position, path in enumerate(files):
                for _class_name, model, inherit, new in _model_classes(path):
                    if new and model not in inherit:
                        self.assertNotIn(model, defined, f"{model} defined twice")
                        defined[model] = ((index, position), f"{domain}/{path.name}")
        self.assertIn("stripe.event", defined)
        for index, (domain, files) in enumerate(domains):
            for position, path in enumerate(files):
                for _class_name, _model, inherit, _new in _model_classes(path):
                    for parent in inherit:
                        if parent not in defined:
                            continue  # a model of Odoo or of another addon
                        where, defining_file = defined[parent]
                        with self.subTest(file=f"{domain}/{path.name}", model=parent):
                            self.assertLess(
                                where,
                                (index, position),
                                f"{parent} is defined in {defining_file}, which "
                                "is imported later",
                            )

    def test_pure_helpers_import_no_odoo(self):
        """tools/ and utils.py hold pure helpers: no Odoo environment."""
        for path in [
            MODULE_ROOT / "utils.py",
            *sorted((MODULE_ROOT / "tools").glob("*.py")),
        ]:
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom | ast.Import):
                    names = (
                        [node.module or ""]
                        if isinstance(node, ast.ImportFrom)
                        else [alias.name for alias in node.names]
                    )
                    with self.subTest(file=path.name):
                        self.assertFalse(
                            any(
                                name == "odoo" or name.startswith("odoo.")
                                for name in names
                            )
                        )
