"""The gradient steps a learner takes by hand on the Backprop page, on top of the tab's model.

Only the last network is kept: each step is remembered as (example, label, rate), and Undo replays
the steps before it from the untouched model. The computation is deterministic, so Undo returns
exactly the network there was, and a tab holds one extra copy of the weights however many steps it
takes.
"""
import numpy as np

from mlp import explain

MAX_STEPS = 50  # steps kept for Undo; past it Apply is refused


class Stepper:
    def __init__(self, base):
        self.base = base            # the tab's model: never changed
        self.model = base           # the network after the steps
        self.steps = []             # (x, label, lr) of each step, oldest first
        self.last = None            # the explain.Step of the latest Apply (None after Undo)

    def apply(self, x, label, lr) -> explain.Step:
        if len(self.steps) >= MAX_STEPS:
            raise ValueError(f"at most {MAX_STEPS} steps can be undone; undo some first")
        step = explain.step(self.model, x, label, lr)
        self.steps.append((np.array(x, dtype=np.float32), int(label), float(lr)))
        self.model, self.last = step.model, step
        return step

    def undo(self):
        """Go back to the network before the latest step."""
        if not self.steps:
            return
        self.steps.pop()
        model = self.base
        for x, label, lr in self.steps:
            model = explain.step(model, x, label, lr).model
        self.model, self.last = model, None

    def __len__(self):
        return len(self.steps)
