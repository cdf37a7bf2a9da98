"""The reference solutions: ground truth of the original notebook, NumPy vs torch
agreement, hand-written gradients vs autograd and finite differences, and no
modification of arguments.

The original inputs are defined here rather than in a conftest so that this file
stands alone.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reference import numpy_net as rnp
from reference import torch_net as rtorch

# ------------------------------------------------------------ original inputs

X1 = np.array([1.0, 2.0, 3.0])
X2 = np.array([4.0, 5.0, 6.0])
Y1 = np.array([0.0, 1.0])
Y2 = np.array([1.0, 0.0])
W1 = np.array([[0.1, 0.2, 0.3, 0.4],
               [0.5, 0.6, 0.7, 0.8],
               [0.9, 1.0, 1.1, 1.2]])
W2 = np.array([[0.2, 0.3],
               [0.4, 0.5],
               [0.6, 0.7],
               [0.8, 0.9]])

# The original's printed tables, rounded to 4 places.
TASK1 = [(X1, [0.1324, 0.8676]), (X2, [0.0145, 0.9855])]
TASK2 = [(X1, Y1, [-0.0074, -0.0149, -0.0223]), (X2, Y2, [0.0083, 0.0104, 0.0124])]
ORIGINAL_CASES = [pytest.param(X1, Y1, id="x1y1"), pytest.param(X2, Y2, id="x2y2")]

# Random problems: (D, H, C, seed). Sizes other than the original's 3, 4, 2.
SHAPES = [(5, 7, 3, 0), (2, 6, 4, 1), (8, 16, 10, 2), (1, 3, 2, 3), (6, 5, 5, 4)]

TASK3_SEEDS = [0, 1, 2, 42]
TASK3_TOLERANCE = 1e-5  # float32 torch vs float64 NumPy after 100 SGD steps


def f32(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float32)


def f64(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


def random_problem(d: int, h: int, c: int, seed: int):
    """x (D,), one-hot target (C,), w1 (D, H), w2 (H, C), keep-mask (H,); some ReLU unit is gated."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=d)
    target = np.eye(c)[rng.integers(c)]
    w1 = rng.normal(size=(d, h))  # negative entries: some hidden units are switched off
    w2 = rng.normal(size=(h, c))
    mask = (rng.random(h) >= 0.4).astype(np.float64)
    mask[0], mask[-1] = 1.0, 0.0  # keep one unit, drop another
    pre = x @ w1
    assert (pre < 0).any(), "test problem must have a ReLU-gated unit"
    assert (pre > 0).any(), "test problem must have an active unit"
    return x, target, w1, w2, mask


# ----------------------------------------------------------------- ground truth


@pytest.mark.parametrize("x, expected", TASK1)
def test_task1_numpy_matches_original(x, expected):
    np.testing.assert_array_equal(np.round(rnp.forward_np(x, W1, W2), 4), expected)


@pytest.mark.parametrize("x, expected", TASK1)
def test_task1_torch_matches_original(x, expected):
    y = rtorch.forward_torch(f32(x), f32(W1), f32(W2))
    np.testing.assert_array_equal(np.round(y.numpy().astype(np.float64), 4), expected)


@pytest.mark.parametrize("x, target, column", TASK2)
def test_task2_numpy_matches_original(x, target, column):
    expected = np.tile(np.array(column)[:, None], (1, 4))
    np.testing.assert_array_equal(np.round(rnp.grad_w1_np(x, target, W1, W2), 4), expected)


@pytest.mark.parametrize("x, target, column", TASK2)
def test_task2_torch_matches_original(x, target, column):
    expected = np.tile(np.array(column)[:, None], (1, 4))
    g = rtorch.grad_w1_torch(f32(x), f32(target), f32(W1), f32(W2))
    np.testing.assert_array_equal(np.round(g.numpy().astype(np.float64), 4), expected)


def test_task2_needs_the_double_softmax():
    """The textbook single-softmax gradient, outer(x, ((y - t) @ w2.T) * (h > 0)), misses the table."""
    y = rnp.forward_np(X1, W1, W2)
    single = np.outer(X1, ((y - Y1) @ W2.T) * (X1 @ W1 > 0))
    assert not np.allclose(np.round(single, 4), np.round(rnp.grad_w1_np(X1, Y1, W1, W2), 4))


# ------------------------------------------------------------ basic behaviour


def test_relu():
    np.testing.assert_array_equal(rnp.relu(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 3.0])


def test_softmax_is_stable_and_works_on_rows():
    y = rnp.softmax(np.array([1000.0, 1001.0]))
    np.testing.assert_allclose(y, [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-12)
    z = np.array([[1.0, 2.0, 3.0], [-1000.0, 0.0, 1000.0]])
    rows = rnp.softmax(z)
    assert rows.shape == (2, 3)
    for row, zi in zip(rows, z):
        np.testing.assert_allclose(row, rnp.softmax(zi), rtol=1e-12)
    np.testing.assert_allclose(rows.sum(axis=-1), 1.0)


def test_loss_is_a_float_and_stable():
    loss = rnp.loss_np(np.array([1.0, 0.0]), Y2)
    assert type(loss) is float
    assert loss == pytest.approx(np.log(1 + np.exp(-1.0)), rel=1e-12)
    assert np.isfinite(rnp.loss_np(np.array([1e4, -1e4]), Y1))


def test_numpy_returns_float64():
    x, t, w1, w2, mask = random_problem(4, 5, 3, 10)
    outputs = [rnp.relu(x), rnp.softmax(x), rnp.forward_np(x, w1, w2, mask, 0.3),
               rnp.grad_w1_np(x, t, w1, w2, mask, 0.3), rnp.grad_w2_np(x, t, w1, w2, mask, 0.3),
               *rnp.train_np(x, t, w1, w2, rnp.dropout_masks(3, 5, 0.4, 0))]
    assert all(o.dtype == np.float64 for o in outputs)


def test_dropout_masks():
    masks = rnp.dropout_masks(100, 4, 0.4, 7)
    assert masks.shape == (100, 4) and masks.dtype == np.float64
    assert set(np.unique(masks)) <= {0.0, 1.0}
    np.testing.assert_array_equal(masks, rnp.dropout_masks(100, 4, 0.4, 7))
    assert 0.5 < masks.mean() < 0.7  # about 1 - p units kept


def test_masked_forward_scales_kept_units():
    """A keep-mask of ones with p > 0 scales every unit by 1/(1-p); mask=None does nothing."""
    x, _, w1, w2, _ = random_problem(4, 6, 3, 11)
    ones = np.ones(6)
    np.testing.assert_allclose(rnp.forward_np(x, w1, w2, ones, 0.0), rnp.forward_np(x, w1, w2))
    np.testing.assert_allclose(rnp.forward_np(x, w1, w2, None, 0.5), rnp.forward_np(x, w1, w2))
    expected = rnp.softmax(rnp.relu(x @ w1) * 2.0 @ w2)
    np.testing.assert_allclose(rnp.forward_np(x, w1, w2, ones, 0.5), expected, rtol=1e-12)


def test_net_layout():
    net = rtorch.Net(f32(W1), f32(W2), p=0.3)
    assert isinstance(net.linear1, nn.Linear) and net.linear1.bias is None
    assert isinstance(net.linear2, nn.Linear) and net.linear2.bias is None
    assert net.linear1.weight.shape == (4, 3) and net.linear2.weight.shape == (2, 4)
    torch.testing.assert_close(net.linear1.weight, f32(W1).T)
    torch.testing.assert_close(net.linear2.weight, f32(W2).T)
    assert net.linear1.weight.dtype == torch.float32


def test_torch_returns_detached_float32():
    x, t = f32(X1), f32(Y1)
    y = rtorch.forward_torch(x, f32(W1), f32(W2))
    g = rtorch.grad_w1_torch(x, t, f32(W1), f32(W2))
    w1, w2 = rtorch.train_torch(x, t, f32(W1), f32(W2), f32(rnp.dropout_masks(5, 4, 0.4, 0)))
    for out, shape in [(y, (2,)), (g, (3, 4)), (w1, (3, 4)), (w2, (4, 2))]:
        assert out.shape == shape and out.dtype == torch.float32 and not out.requires_grad


# ------------------------------------------------------- NumPy agrees with torch

AGREE = dict(rtol=1e-4, atol=1e-5)  # float32 torch vs float64 NumPy on one pass


@pytest.mark.parametrize("d, h, c, seed", SHAPES)
def test_numpy_and_torch_agree_on_random_shapes(d, h, c, seed):
    x, t, w1, w2, mask = random_problem(d, h, c, seed)
    p = 0.25  # not the default 0.4, so that a dropped argument shows
    # activations
    np.testing.assert_allclose(rnp.relu(x @ w1), torch.relu(f64(x @ w1)).numpy())
    z = x @ w1 @ w2
    np.testing.assert_allclose(rnp.softmax(z), torch.softmax(f64(z), dim=-1).numpy(), rtol=1e-12)
    # forward, without and with a mask
    y = rnp.forward_np(x, w1, w2)
    np.testing.assert_allclose(y, rtorch.forward_torch(f32(x), f32(w1), f32(w2)).numpy(), **AGREE)
    y_masked = rtorch.Net(f32(w1), f32(w2), p)(f32(x), f32(mask)).detach().numpy()
    np.testing.assert_allclose(rnp.forward_np(x, w1, w2, mask, p), y_masked, **AGREE)
    # loss
    expected_loss = nn.CrossEntropyLoss()(f32(y), f32(t)).item()
    assert rnp.loss_np(y, t) == pytest.approx(expected_loss, rel=1e-5)
    # gradient of w1
    g_torch = rtorch.grad_w1_torch(f32(x), f32(t), f32(w1), f32(w2)).numpy()
    np.testing.assert_allclose(rnp.grad_w1_np(x, t, w1, w2), g_torch, **AGREE)
    # training with masks
    masks = rnp.dropout_masks(20, h, p, seed)
    n1, n2 = rnp.train_np(x, t, w1, w2, masks, lr=0.05, p=p)
    t1, t2 = rtorch.train_torch(f32(x), f32(t), f32(w1), f32(w2), f32(masks), lr=0.05, p=p)
    np.testing.assert_allclose(n1, t1.numpy(), **AGREE)
    np.testing.assert_allclose(n2, t2.numpy(), **AGREE)
    assert not np.allclose(n1, w1) or not np.allclose(n2, w2), "training must move the weights"


@pytest.mark.parametrize("seed", TASK3_SEEDS)
@pytest.mark.parametrize("x, target", ORIGINAL_CASES)
def test_task3_numpy_and_torch_end_with_the_same_weights(x, target, seed, record_property):
    masks = rnp.dropout_masks(100, 4, 0.4, seed)
    n1, n2 = rnp.train_np(x, target, W1, W2, masks, lr=0.01, p=0.4)
    t1, t2 = rtorch.train_torch(f32(x), f32(target), f32(W1), f32(W2), f32(masks), lr=0.01, p=0.4)
    diff = max(np.abs(n1 - t1.double().numpy()).max(), np.abs(n2 - t2.double().numpy()).max())
    record_property("task3_max_abs_diff", float(diff))
    print(f"task 3, seed {seed}: max |numpy - torch| = {diff:.3e}")
    assert diff < TASK3_TOLERANCE, f"max |numpy - torch| = {diff:.3e} >= {TASK3_TOLERANCE}"
    # the weights moved by much more than the tolerance, so agreement means something
    assert np.abs(n1 - W1).max() > 100 * TASK3_TOLERANCE
    assert np.abs(n2 - W2).max() > 100 * TASK3_TOLERANCE


def test_task3_depends_on_the_masks():
    a = rnp.train_np(X1, Y1, W1, W2, rnp.dropout_masks(100, 4, 0.4, 0))
    b = rnp.train_np(X1, Y1, W1, W2, rnp.dropout_masks(100, 4, 0.4, 1))
    assert not np.allclose(a[0], b[0])


def test_train_is_plain_sgd_on_the_gradients():
    """One epoch of train_np is exactly w - lr * grad at the initial weights."""
    x, t, w1, w2, mask = random_problem(3, 5, 4, 12)
    n1, n2 = rnp.train_np(x, t, w1, w2, mask[None, :], lr=0.1, p=0.25)
    np.testing.assert_allclose(n1, w1 - 0.1 * rnp.grad_w1_np(x, t, w1, w2, mask, 0.25), rtol=1e-14)
    np.testing.assert_allclose(n2, w2 - 0.1 * rnp.grad_w2_np(x, t, w1, w2, mask, 0.25), rtol=1e-14)


# ----------------------------------------- hand-written gradients vs autograd / FD


def autograd_float64(x, t, w1, w2, mask, p):
    """Loss and (dL/dw1, dL/dw2) by torch.autograd in float64, written independently of Net."""
    w1_t = f64(w1).requires_grad_()
    w2_t = f64(w2).requires_grad_()
    a = torch.relu(f64(x) @ w1_t)
    if mask is not None:
        a = a * f64(mask) / (1 - p)
    y = torch.softmax(a @ w2_t, dim=-1)
    loss = nn.CrossEntropyLoss()(y, f64(t))
    loss.backward()
    return loss.item(), w1_t.grad.numpy(), w2_t.grad.numpy()


def finite_differences(f, w: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f at w, same shape as w."""
    grad = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        step = np.zeros_like(w)
        step[i] = eps
        grad[i] = (f(w + step) - f(w - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("d, h, c, seed", SHAPES)
def test_gradients_match_autograd_float64(d, h, c, seed, with_mask):
    x, t, w1, w2, mask = random_problem(d, h, c, seed)
    mask, p = (mask, 0.3) if with_mask else (None, 0.0)
    loss, g1, g2 = autograd_float64(x, t, w1, w2, mask, p)
    assert rnp.loss_np(rnp.forward_np(x, w1, w2, mask, p), t) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(rnp.grad_w1_np(x, t, w1, w2, mask, p), g1, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(rnp.grad_w2_np(x, t, w1, w2, mask, p), g2, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("d, h, c, seed", SHAPES[:3])
def test_gradients_match_finite_differences(d, h, c, seed, with_mask):
    x, t, w1, w2, mask = random_problem(d, h, c, seed)
    mask, p = (mask, 0.3) if with_mask else (None, 0.0)
    assert np.abs(x @ w1).min() > 1e-4, "no hidden unit may sit on the ReLU kink"

    def loss_of_w1(w):
        return rnp.loss_np(rnp.forward_np(x, w, w2, mask, p), t)

    def loss_of_w2(w):
        return rnp.loss_np(rnp.forward_np(x, w1, w, mask, p), t)

    np.testing.assert_allclose(rnp.grad_w1_np(x, t, w1, w2, mask, p),
                               finite_differences(loss_of_w1, w1), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(rnp.grad_w2_np(x, t, w1, w2, mask, p),
                               finite_differences(loss_of_w2, w2), rtol=1e-5, atol=1e-8)


def test_gradient_with_a_probability_target():
    """A soft target (not summing to 1) goes through the same formulas as torch's."""
    x, _, w1, w2, mask = random_problem(4, 6, 3, 13)
    t = np.array([0.2, 0.5, 0.6])
    loss, g1, g2 = autograd_float64(x, t, w1, w2, mask, 0.4)
    np.testing.assert_allclose(rnp.grad_w1_np(x, t, w1, w2, mask, 0.4), g1, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(rnp.grad_w2_np(x, t, w1, w2, mask, 0.4), g2, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------- the double-softmax loss


@pytest.mark.parametrize("x, target", ORIGINAL_CASES)
def test_loss_equals_cross_entropy_on_the_network_output(x, target):
    y = rnp.forward_np(x, W1, W2)
    expected = nn.CrossEntropyLoss()(rtorch.Net(f64(W1), f64(W2))(f64(x)), f64(target)).item()
    assert rnp.loss_np(y, target) == pytest.approx(expected, rel=1e-12)
    single_softmax = float(-np.sum(target * np.log(y)))
    assert rnp.loss_np(y, target) != pytest.approx(single_softmax, rel=1e-3)


# ------------------------------------------------------- arguments are not modified


def read_only_copies(*arrays: np.ndarray) -> list[np.ndarray]:
    """Copies that raise on any in-place write."""
    copies = [np.array(a) for a in arrays]
    for a in copies:
        a.flags.writeable = False
    return copies


def test_numpy_functions_do_not_modify_arguments():
    x, t, w1, w2, mask = random_problem(4, 6, 3, 14)
    masks = rnp.dropout_masks(5, 6, 0.4, 0)
    originals = [a.copy() for a in (x, t, w1, w2, mask, masks)]
    x, t, w1, w2, mask, masks = read_only_copies(x, t, w1, w2, mask, masks)
    rnp.relu(x)
    rnp.softmax(x)
    y = rnp.forward_np(x, w1, w2, mask, 0.4)
    y.flags.writeable = False
    rnp.loss_np(y, t)
    rnp.grad_w1_np(x, t, w1, w2, mask, 0.4)
    rnp.grad_w2_np(x, t, w1, w2, mask, 0.4)
    n1, n2 = rnp.train_np(x, t, w1, w2, masks)
    for before, after in zip(originals, (x, t, w1, w2, mask, masks)):
        np.testing.assert_array_equal(before, after)
    assert not np.shares_memory(n1, w1) and not np.shares_memory(n2, w2)


def test_train_np_with_no_epochs_returns_copies():
    n1, n2 = rnp.train_np(X1, Y1, W1, W2, np.zeros((0, 4)))
    np.testing.assert_array_equal(n1, W1)
    assert not np.shares_memory(n1, W1) and not np.shares_memory(n2, W2)


def test_torch_functions_do_not_modify_arguments():
    x, t, w1, w2 = f32(X1), f32(Y1), f32(W1), f32(W2)
    masks = f32(rnp.dropout_masks(5, 4, 0.4, 0))
    args = (x, t, w1, w2, masks)
    originals = [a.clone() for a in args]
    rtorch.forward_torch(x, w1, w2)
    rtorch.grad_w1_torch(x, t, w1, w2)
    n1, n2 = rtorch.train_torch(x, t, w1, w2, masks)
    net = rtorch.Net(w1, w2)
    net(x, masks[0]).sum().backward()
    with torch.no_grad():
        net.linear1.weight.add_(1.0)  # the Net owns its weights: the caller's w1 is untouched
    for before, after in zip(originals, args):
        assert torch.equal(before, after)
        assert after.grad is None
    assert n1.data_ptr() != w1.data_ptr() and n2.data_ptr() != w2.data_ptr()


def test_train_torch_with_no_epochs_returns_copies():
    w1, w2 = f32(W1), f32(W2)
    n1, n2 = rtorch.train_torch(f32(X1), f32(Y1), w1, w2, torch.zeros(0, 4))
    assert torch.equal(n1, w1) and torch.equal(n2, w2)
    assert n1.data_ptr() != w1.data_ptr() and n2.data_ptr() != w2.data_ptr()
