"""Optimizers: gradient descent, momentum and Adam, each a small object with `step`.

Each works on the model's flat parameter vector, in place.
"""
import math

import numpy as np


class SGD:
    """Gradient descent, with optional (heavy-ball) momentum: v = mu v - lr g; p += v."""

    def __init__(self, params, momentum=0.0):
        self.params = params
        self.momentum = momentum
        self.velocity = np.zeros_like(params) if momentum else None

    def step(self, grad, lr):
        if self.velocity is None:
            grad *= lr
            self.params -= grad
        else:
            self.velocity *= self.momentum
            grad *= lr
            self.velocity -= grad
            self.params += self.velocity


class Adam:
    """Adam (Kingma & Ba, 2015) with bias-corrected moment estimates.

    The moments are kept without their (1 - beta) factors, M = m / (1 - b1) and V = v / (1 - b2),
    which saves two of the ten passes over the weights in each step; the constant factors move
    into the step size and epsilon instead.
    """

    def __init__(self, params, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.params = params
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.t = 0
        self.M = np.zeros_like(params)
        self.V = np.zeros_like(params)

    def step(self, grad, lr):
        """Update the parameters with ``grad`` (which is used as scratch space)."""
        b1, b2, M, V = self.beta1, self.beta2, self.M, self.V
        self.t += 1
        M *= b1
        M += grad  # M = b1 M + g, so m = b1 m + (1 - b1) g with m = (1 - b1) M
        np.square(grad, out=grad)
        V *= b2
        V += grad  # V = b2 V + g^2, so v = b2 v + (1 - b2) g^2 with v = (1 - b2) V
        # p -= lr_t m / (sqrt(v) + eps) with lr_t = lr sqrt(1 - b2^t) / (1 - b1^t) (bias corrections)
        #    = c M / (sqrt(V) + eps / sqrt(1 - b2)) with c = lr_t (1 - b1) / sqrt(1 - b2)
        # (math.sqrt, not np.sqrt: a Python float keeps the float32 arithmetic in float32)
        lr_t = lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        np.sqrt(V, out=grad)
        grad += self.epsilon / math.sqrt(1 - b2)
        np.divide(M, grad, out=grad)
        grad *= lr_t * (1 - b1) / math.sqrt(1 - b2)
        self.params -= grad


# name: (make it over the flat parameters, with a TrainConfig's settings; what it does, for the Train page)
OPTIMIZERS = {
    "sgd": (lambda params, config: SGD(params), "plain gradient descent"),
    "momentum": (lambda params, config: SGD(params, config.momentum), "keeps moving in the same direction"),
    "adam": (lambda params, config: Adam(params), "adapts the step for each weight"),
}


def make_optimizer(name, params, config):
    """Return the optimizer called ``name`` (one of `OPTIMIZERS`) over the flat vector ``params``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name][0](params, config)
