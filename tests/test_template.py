"""The student template mirrors the reference: same public names, signatures and
docstrings; every stub raises NotImplementedError; the given helper is the reference's."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

import reference.numpy_net
import reference.torch_net
import student_template.numpy_net
import student_template.torch_net

MODULE_PAIRS = [
    pytest.param(reference.numpy_net, student_template.numpy_net, id="numpy_net"),
    pytest.param(reference.torch_net, student_template.torch_net, id="torch_net"),
]

# The contract's names (docs/assignment.md and the handout), plus the helper shipped to students.
CONTRACT = {
    "numpy_net": {"relu", "softmax", "forward_np", "loss_np", "grad_w1_np", "grad_w2_np",
                  "train_np", "dropout_masks"},
    "torch_net": {"Net", "forward_torch", "grad_w1_torch", "train_torch"},
}

README = Path(student_template.numpy_net.__file__).with_name("README.md")


def public_names(module: ModuleType) -> set[str]:
    """Functions and classes defined in the module itself whose names do not start with '_'."""
    return {
        name for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }


def public_callables(module: ModuleType) -> dict[str, object]:
    """Every public function, plus Net.__init__ and Net.forward, by qualified name."""
    found: dict[str, object] = {}
    for name in sorted(public_names(module)):
        obj = getattr(module, name)
        found[name] = obj
        if inspect.isclass(obj):
            found[f"{name}.__init__"] = obj.__init__
            found[f"{name}.forward"] = obj.forward
    return found


@pytest.mark.parametrize("ref, tmpl", MODULE_PAIRS)
def test_same_public_names_as_the_contract(ref, tmpl):
    expected = CONTRACT[ref.__name__.rsplit(".", 1)[1]]
    assert public_names(ref) == expected
    assert public_names(tmpl) == expected


@pytest.mark.parametrize("ref, tmpl", MODULE_PAIRS)
def test_same_signatures(ref, tmpl):
    ref_callables, tmpl_callables = public_callables(ref), public_callables(tmpl)
    assert ref_callables.keys() == tmpl_callables.keys()
    for name, obj in ref_callables.items():
        assert inspect.signature(tmpl_callables[name]) == inspect.signature(obj), name


@pytest.mark.parametrize("ref, tmpl", MODULE_PAIRS)
def test_same_docstrings(ref, tmpl):
    ref_callables, tmpl_callables = public_callables(ref), public_callables(tmpl)
    for name, obj in ref_callables.items():
        assert inspect.getdoc(obj), f"{name} has no docstring"
        assert inspect.getdoc(tmpl_callables[name]) == inspect.getdoc(obj), name


# Arguments that would work on a correct implementation: the original's inputs.
X = np.array([1.0, 2.0, 3.0])
T = np.array([0.0, 1.0])
W1 = np.arange(1.0, 13.0).reshape(3, 4) / 10
W2 = np.arange(2.0, 10.0).reshape(4, 2) / 10
MASKS = student_template.numpy_net.dropout_masks(3, 4, 0.4, 0)


def f32(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float32)


STUB_CALLS = {
    "relu": lambda m: m.relu(X),
    "softmax": lambda m: m.softmax(X),
    "forward_np": lambda m: m.forward_np(X, W1, W2),
    "loss_np": lambda m: m.loss_np(T, T),
    "grad_w1_np": lambda m: m.grad_w1_np(X, T, W1, W2),
    "grad_w2_np": lambda m: m.grad_w2_np(X, T, W1, W2),
    "train_np": lambda m: m.train_np(X, T, W1, W2, MASKS),
    "Net.__init__": lambda m: m.Net(f32(W1), f32(W2)),
    # forward is called on a bare instance, since the stubbed __init__ raises
    "Net.forward": lambda m: m.Net.forward(m.Net.__new__(m.Net), f32(X)),
    "forward_torch": lambda m: m.forward_torch(f32(X), f32(W1), f32(W2)),
    "grad_w1_torch": lambda m: m.grad_w1_torch(f32(X), f32(T), f32(W1), f32(W2)),
    "train_torch": lambda m: m.train_torch(f32(X), f32(T), f32(W1), f32(W2), f32(MASKS)),
}


def test_every_stub_is_called_here():
    names = set(public_callables(student_template.numpy_net)) | set(
        public_callables(student_template.torch_net))
    assert names - {"dropout_masks", "Net"} == STUB_CALLS.keys()


@pytest.mark.parametrize("name", STUB_CALLS)
def test_stub_raises_not_implemented(name):
    module = student_template.numpy_net if name.endswith("_np") or name in {"relu", "softmax"} \
        else student_template.torch_net
    with pytest.raises(NotImplementedError, match=f"{name} is not implemented yet"):
        STUB_CALLS[name](module)


@pytest.mark.parametrize("name", STUB_CALLS)
def test_reference_runs_the_same_calls(name):
    """The calls above are valid: the reference answers them, so the stubs fail for the right reason."""
    module = reference.numpy_net if name.endswith("_np") or name in {"relu", "softmax"} \
        else reference.torch_net
    if name == "Net.forward":
        module.Net(f32(W1), f32(W2)).forward(f32(X))
    else:
        STUB_CALLS[name](module)


@pytest.mark.parametrize("args", [(100, 4, 0.4, 0), (100, 4, 0.4, 42), (7, 9, 0.25, 3), (0, 5, 0.5, 1)])
def test_dropout_masks_is_the_reference(args):
    given = student_template.numpy_net.dropout_masks(*args)
    expected = reference.numpy_net.dropout_masks(*args)
    assert given.dtype == expected.dtype == np.float64
    np.testing.assert_array_equal(given, expected)


def test_readme_names_every_function_and_the_visible_values():
    text = README.read_text(encoding="utf-8")
    for names in CONTRACT.values():
        for name in names:
            assert f"`{name}" in text, name
    for value in ["0.1324", "0.8676", "0.0145", "0.9855", "-0.0074", "-0.0149", "-0.0223",
                  "0.0083", "0.0104", "0.0124"]:
        assert value in text, value
    assert "grader check" in text
