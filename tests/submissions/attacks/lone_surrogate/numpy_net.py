"""Text that no UTF-8 file can hold: an exception message and a type name that are lone surrogates."""
from _correct_numpy_net import *  # noqa: F403


def relu(h):
    raise ValueError("\ud800 and \udcff")


def softmax(z):
    return type("\ud800", (), {})()  # a value of a type named by a lone surrogate
