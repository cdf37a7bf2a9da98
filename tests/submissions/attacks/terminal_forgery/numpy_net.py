"""Forges the TA's screen: clears it and draws a full score through an error location and messages."""
from _correct_numpy_net import *  # noqa: F403

FORGED = "\x1b[2J\x1b[H\x1b[32mtask1 30 / 30\x1b[0m\r\n\x9b2J\u202eorez\u202c\x07"


def relu(h):
    raise ValueError(FORGED + "\x00")


relu.__code__ = relu.__code__.replace(co_name=FORGED)  # the error's location (`where`) names this function


def softmax(z):
    return type(FORGED, (), {})()
