"""io.outputs' signals: an Interrupted that Python only prints is delivered again."""

from __future__ import annotations

import signal
import time
import weakref

import pytest

from labelaudit.io import outputs


class _Held:
    pass


def test_an_interrupt_raised_inside_a_weakref_callback_is_delivered_again(capsys):
    """A signal's handler runs at the next bytecode of the main thread, which may be a weakref callback
    (an import's module lock, as seen under load): the Interrupted raised there is only printed as
    unraisable, and a SIGHUP once let the run publish its outputs and exit 0. Now it comes back in
    ordinary code, and nothing is printed."""
    reached = []
    with pytest.raises(outputs.Interrupted) as got, outputs.interrupts_as_exceptions():
        held = _Held()
        ref = weakref.ref(held, lambda _: outputs._on_signal(signal.SIGHUP, None))
        del held  # the callback raises: swallowed by the interpreter, handed to sys.unraisablehook
        assert ref() is None
        reached.append("after the callback")
        for _ in range(1000):  # the signal delivered again lands here
            time.sleep(0.001)
        reached.append("never")
    assert got.value.signum == signal.SIGHUP
    assert reached == ["after the callback"]
    assert capsys.readouterr().err == ""


def test_other_unraisable_exceptions_still_reach_the_previous_hook(monkeypatch):
    import sys

    seen = []

    def mine(info):
        seen.append(type(info.exc_value))

    monkeypatch.setattr(sys, "unraisablehook", mine)
    with outputs.interrupts_as_exceptions():
        held = _Held()
        ref = weakref.ref(held, lambda _: 1 / 0)
        del held
        assert ref() is None
    assert seen == [ZeroDivisionError]
    assert sys.unraisablehook is mine  # restored on the way out
