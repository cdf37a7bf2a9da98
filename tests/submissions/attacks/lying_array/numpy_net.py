"""forward_np returns an ndarray subclass whose comparisons, arithmetic and ufuncs all lie."""
import numpy as np

from _correct_numpy_net import *  # noqa: F403


class Liar(np.ndarray):
    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False  # noqa: E731

    def __sub__(self, other):
        return np.zeros(self.shape).view(Liar)

    __rsub__ = __sub__

    def __abs__(self):
        return np.zeros(self.shape).view(Liar)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.shape(inputs[0])).view(np.ndarray)

    def __array_function__(self, func, types, args, kwargs):
        return True

    def tolist(self):
        return [0.5] * self.size


def forward_np(x, w1, w2, mask=None, p=0.0):
    return np.full(w2.shape[1], 7.0).view(Liar)
