"""Every public name in nnkit carries a docstring (issue 6).

Checked: each public class and function defined in an nnkit module, and each public method or
property defined in such a class's own body. A method that overrides a documented method of a base
class (forward, backward, build, get_config, update, the Callback hooks, ...) inherits that contract
and may stay bare; the base-class method it overrides is checked instead.
"""
import importlib
import inspect
import pkgutil

import nnkit


def public(name):
    return not name.startswith("_")


def own_doc(member):
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    doc = getattr(member, "__doc__", None)
    return doc if isinstance(doc, str) and doc.strip() else None


def is_method_like(member):
    if isinstance(member, (staticmethod, classmethod, property)):
        return True
    return inspect.isfunction(member)


def overrides_documented_base(cls, name):
    for base in cls.__mro__[1:]:
        if name in vars(base) and own_doc(vars(base)[name]):
            return True
    return False


def nnkit_modules():
    yield nnkit
    for info in pkgutil.walk_packages(nnkit.__path__, prefix="nnkit."):
        yield importlib.import_module(info.name)


def undocumented_names():
    offenders = []
    for module in nnkit_modules():
        for name, obj in vars(module).items():
            if not public(name) or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not own_doc(obj):
                offenders.append(f"{module.__name__}.{name}")
            if not inspect.isclass(obj):
                continue
            for attr, member in vars(obj).items():
                if not public(attr) or not is_method_like(member):
                    continue
                if own_doc(member) or overrides_documented_base(obj, attr):
                    continue
                offenders.append(f"{module.__name__}.{name}.{attr}")
    return offenders


def test_every_public_name_has_a_docstring():
    offenders = undocumented_names()
    assert not offenders, (
        f"{len(offenders)} public names lack a docstring:\n  " + "\n  ".join(offenders))
