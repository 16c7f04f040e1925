"""What the installed ``stripe`` SDK declares about Stripe's API, to check the
requests the module makes.

stripe-python is generated from Stripe's OpenAPI description at the API version
it pins: each service method of ``stripe/**/_*_service.py`` sends one operation
(``self._request("get", "/v1/charges/{charge}", ...)``), types its parameters
with a class of ``stripe.params`` (a ``TypedDict``, nested ones for nested
parameters) and names the object it answers (``"ListObject[Charge]"``), whose
class in ``stripe/_*.py`` annotates each field (``ExpandableField[...]`` for an
id Stripe can expand). Nothing here is written by hand: every operation,
parameter and field is read from the SDK's source and type hints.

:func:`request_problems` says what Stripe would refuse in one request: a path
no operation serves, a parameter (at any depth) the operation does not declare,
a value outside the declared choices (``Literal``), an ``expand`` path that
does not end on an expandable field. Stripe also expands *includable* fields
(``charge.refunds``, ``price.tiers``, ``customer.tax_ids``), lists or objects it
leaves out unless asked; the SDK types them ``Optional[ListObject[...]]`` or
``Optional[List[...]]`` without a mark of their own, so those count as
expandable too.
"""

import ast
import functools
import importlib
import inspect
import re
import typing
from pathlib import Path

import stripe
import typing_extensions

_QUOTED = re.compile(r"[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Operation(typing.NamedTuple):
    """One operation of Stripe's API as the SDK sends it."""

    method: str  # "GET"
    template: str  # "/v1/charges/{charge}"
    pattern: re.Pattern
    sdk_method: str  # "ChargeService.retrieve"
    params_class: type | None
    is_list: bool  # answers a ListObject of ...
    returns: type | None  # ... this resource class (stripe.Charge)


def _sdk_dir():
    return Path(stripe.__file__).parent


def _request_call(function):
    """The ``(method, path template)`` of the ``self._request(...)`` call of a
    service method, or None."""
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "_request"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Constant)
        ):
            continue
        path = node.args[1]
        if isinstance(path, ast.Call) and isinstance(path.func, ast.Attribute):
            path = path.func.value  # "/v1/charges/{charge}".format(...)
        if isinstance(path, ast.Constant) and isinstance(path.value, str):
            return node.args[0].value.upper(), path.value
    return None


@functools.cache
def _imports(path):
    """``{name: module}`` of the ``from stripe... import name`` of an SDK file
    (those under ``TYPE_CHECKING`` included)."""
    found = {}
    for node in ast.walk(_module_tree(path)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "stripe"
        ):
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def _resolve(name, path):
    """The object an SDK file names (a params or resource class), or None."""
    module = _imports(str(path)).get(name)
    if module:
        return getattr(importlib.import_module(module), name, None)
    return getattr(stripe, name, None)


def _annotation_name(annotation):
    """The class name a string annotation names: ``Optional["X"]`` -> ``X``."""
    if annotation is None:
        return None
    text = ast.unparse(annotation)
    match = _QUOTED.search(text)
    return match.group(1) if match else None


@functools.cache
def operations():
    """Every ``/v1`` operation of the SDK's services.

    :rtype: list[Operation]
    """
    found = []
    for path in sorted(_sdk_dir().rglob("_*_service.py")):
        if "v2" in path.relative_to(_sdk_dir()).parts:
            continue
        tree = _module_tree(str(path))
        for cls in tree.body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for function in cls.body:
                if not isinstance(function, ast.FunctionDef):
                    continue  # the async twins send the same requests
                call = _request_call(function)
                if not call or not call[1].startswith("/v1/"):
                    continue
                method, template = call
                params_name = next(
                    (
                        _annotation_name(arg.annotation)
                        for arg in function.args.args
                        if arg.arg == "params"
                    ),
                    None,
                )
                regex = "".join(
                    "[^/]+" if part.startswith("{") else re.escape(part)
                    for part in re.split(r"(\{[^}]+\})", template)
                )
                returns = (
                    ast.unparse(function.returns).strip("\"'")
                    if function.returns
                    else ""
                )
                match = re.fullmatch(r"(?:ListObject\[\"?)?(\w+)\"?\]?", returns)
                found.append(
                    Operation(
                        method,
                        template,
                        re.compile(f"^{regex}$"),
                        f"{cls.name}.{function.name}",
                        _resolve(params_name, path) if params_name else None,
                        returns.startswith("ListObject["),
                        _resolve(match.group(1), path) if match else None,
                    )
                )
    return found


#: The one operation the module sends that no SDK method declares: a file's
#: contents, on Stripe's files host (the ``url`` of a File object, how a report
#: run's CSV is downloaded: docs.stripe.com/reports/api). No parameters.
FILE_CONTENTS = Operation(
    "GET",
    "/v1/files/{file}/contents",
    re.compile(r"^/v1/files/[^/]+/contents$"),
    "files host: file contents",
    None,
    False,
    None,
)


def find_operation(method, path):
    """The operation serving ``method path``; of several templates that fit
    (``/v1/invoices/upcoming`` and ``/v1/invoices/{invoice}``), the one with
    the fewest placeholders."""
    fitting = [
        op
        for op in [*operations(), FILE_CONTENTS]
        if op.method == method and op.pattern.match(path)
    ]
    return min(fitting, key=lambda op: op.template.count("{"), default=None)


# === PARAMETERS === #


def _typed_dicts(hint):
    """The ``TypedDict`` classes a type hint allows (through unions, lists)."""
    if typing_extensions.is_typeddict(hint):
        return [hint]
    found = []
    for arg in typing.get_args(hint):
        found += _typed_dicts(arg)
    return found


def _literals(hint):
    """The values a hint allows when it is a choice (``Literal``), else None."""
    origin = typing.get_origin(hint)
    if origin in (typing.Literal, typing_extensions.Literal):
        return set(typing.get_args(hint))
    if origin in (list, typing.List):  # noqa: UP006
        return _literals(typing.get_args(hint)[0])
    if origin is typing.Union:
        values = set()
        for arg in typing.get_args(hint):
            allowed = _literals(arg)
            if allowed is None:
                return None  # the union also takes free values
            values |= allowed
        return values
    return None


class _Unknown:
    """A type the SDK imports only for type checkers (``StripeContext``)."""

    def __class_getitem__(cls, _item):
        return cls


def _type_hints(cls):
    """The resolved type hints of a params class; a name the SDK imports only
    for type checkers (``StripeContext``) resolves to an ``_Unknown``."""
    unknown = {}
    while True:
        try:
            return typing_extensions.get_type_hints(cls, localns=unknown)
        except NameError as error:
            if error.name in unknown:
                raise
            unknown[error.name] = type(error.name, (_Unknown,), {})


@functools.cache
def _hints(params_class):
    hints = _type_hints(params_class)
    # The SDK's options (api_key, stripe_version...), which params classes
    # inherit, are never sent as parameters.
    for name in _type_hints(stripe.RequestOptions):
        hints.pop(name, None)
    return hints


def _param_problems(value, hint, where):
    problems = []
    if isinstance(value, list):
        for item in value:
            problems += _param_problems(item, hint, where)
        return problems
    typed = _typed_dicts(hint)
    if isinstance(value, dict):
        if not typed:  # Dict[str, str] (metadata): free keys
            return problems
        declared = {}
        for cls in typed:
            declared.update(_hints(cls))
        for name, item in value.items():
            inner = f"{where}[{name}]" if where else name
            if name not in declared:
                problems.append(f"unknown parameter {inner}")
            else:
                problems += _param_problems(item, declared[name], inner)
        return problems
    allowed = _literals(hint)
    if allowed is not None and value not in {str(v) for v in allowed}:
        problems.append(f"{where}={value!r} is not one of its {len(allowed)} values")
    return problems


# === RESPONSE OBJECTS AND EXPANSION === #


@functools.cache
def _module_tree(path):
    return ast.parse(Path(path).read_text(encoding="utf-8"))


def _class_node(cls):
    """``(AST of a resource class of the SDK, its file)``, or None."""
    if not isinstance(cls, type):
        return None
    path = inspect.getsourcefile(cls)
    for node in _module_tree(path).body:
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return node, path
    return None


def _fields(node):
    """``{field: annotation text}`` of a class body."""
    return {
        item.target.id: ast.unparse(item.annotation)
        for item in node.body
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
    }


def _nested(node, name):
    for item in node.body:
        if isinstance(item, ast.ClassDef) and item.name == name:
            return item
    return None


def _field_classes(annotation, scopes, path):
    """The classes a field's annotation names, each as ``(node, enclosing
    classes, file)``: a class nested in one of ``scopes`` (innermost first),
    else a resource the file imports."""
    found = []
    for name in _NAME.findall(annotation):
        for depth in range(len(scopes) - 1, -1, -1):
            node = _nested(scopes[depth], name)
            if node is not None:
                found.append((node, [*scopes[: depth + 1], node], path))
                break
        else:
            resolved = _class_node(_resolve(name, path))
            if resolved:
                found.append((resolved[0], [resolved[0]], resolved[1]))
    return found


def _expandable(annotation):
    """An id Stripe expands (``ExpandableField``), or an includable list Stripe
    leaves out unless asked (typed ``Optional[List...]``/``Optional[ListObject``)."""
    compact = annotation.replace(" ", "")
    return "ExpandableField[" in compact or compact.startswith(
        ("Optional[ListObject[", "Optional[List[")
    )


def expand_problem(operation, path):
    """Why ``expand[]=path`` is not valid on the operation's answer, or None."""
    parts = path.split(".")
    if operation.is_list:
        if parts[0] != "data" or len(parts) < 2:
            return f"expand {path!r}: a list expands data.<field>"
        parts = parts[1:]
    root = _class_node(operation.returns)
    name = getattr(operation.returns, "__name__", operation.returns)
    if root is None:
        return f"expand {path!r}: the SDK declares no object for the answer"
    candidates = [(root[0], [root[0]], root[1])]
    for depth, part in enumerate(parts):
        following = []
        for node, scopes, file in candidates:
            annotation = _fields(node).get(part)
            if annotation is None:
                continue
            if depth == len(parts) - 1:
                if _expandable(annotation):
                    return None
            else:
                following += _field_classes(annotation, scopes, file)
        candidates = following
    return f"expand {path!r}: not an expandable field of {name}"


# === ONE REQUEST === #


def request_problems(method, path, query):
    """What Stripe would refuse in one request, as the fake recorded it.

    :param str method: ``GET``, ``POST``, ``DELETE``.
    :param str path: ``/v1/charges/ch_...``.
    :param dict query: the decoded parameters (``RecordedRequest.query``).
    :return: the problems found, ``[]`` for a valid request.
    :rtype: list[str]
    """
    operation = find_operation(method, path)
    if operation is None:
        return [f"{method} {path}: no operation of the SDK serves this path"]
    where = f"{method} {operation.template} ({operation.sdk_method})"
    if operation.params_class is None:
        return [f"{where}: unknown parameter {name}" for name in query]
    problems = [
        f"{where}: {problem}"
        for problem in _param_problems(query, operation.params_class, "")
    ]
    for expand in query.get("expand") or []:
        problem = expand_problem(operation, expand)
        if problem:
            problems.append(f"{where}: {problem}")
    return problems
