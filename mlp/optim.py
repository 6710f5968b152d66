"""Optimizers: gradient descent, momentum and Adam, each a small object with `step`.

Each works on the model's flat parameter vector, in place.
"""
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
    """Adam (Kingma & Ba, 2015) with bias-corrected moment estimates."""

    def __init__(self, params, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.params = params
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.t = 0
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)

    def step(self, grad, lr):
        """Update the parameters with ``grad`` (which is used as scratch space)."""
        b1, b2, m, v = self.beta1, self.beta2, self.m, self.v
        self.t += 1
        m *= b1
        m += (1 - b1) * grad  # m = b1 m + (1 - b1) g
        v *= b2
        np.square(grad, out=grad)
        grad *= 1 - b2
        v += grad  # v = b2 v + (1 - b2) g^2
        # both bias corrections folded into the step size: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)
        lr_t = lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        np.sqrt(v, out=grad)
        grad += self.epsilon
        np.divide(m, grad, out=grad)
        grad *= lr_t
        self.params -= grad  # p -= lr_t m / (sqrt(v) + eps)


def make_optimizer(name, params, momentum=0.9):
    """Return the optimizer called ``name`` over the flat vector ``params``."""
    if name == "sgd":
        return SGD(params)
    if name == "momentum":
        return SGD(params, momentum=momentum)
    if name == "adam":
        return Adam(params)
    raise ValueError(f"unknown optimizer {name!r}; use 'sgd', 'momentum' or 'adam'")
