"""Floods every text field of a reply: an 8 MB message, an 8 MB error location, an 8 MB type name."""
import sys

from _correct_numpy_net import *  # noqa: F403

HUGE = "x" * (8 << 20)


def _harnesses():
    """The harness module(s) in this process (it caps messages itself; student code can lift that)."""
    return [m for m in list(sys.modules.values()) if hasattr(m, "_student_line") and hasattr(m, "_error")]


def relu(h):
    for harness in _harnesses():
        original = harness._error

        def uncapped(kind, exc, workdir, original=original):
            reply = original(kind, exc, workdir)
            reply["error"]["message"] = HUGE
            return reply

        harness._error = uncapped
    raise ValueError(HUGE)


relu.__code__ = relu.__code__.replace(co_name=HUGE)


def softmax(z):
    return type(HUGE, (), {})()
