"""The original notebook's training code, kept faithful (float64, column-major, full batch).

Only the benchmarks use it, to time the notebook next to the `notebook` preset in one process.
"""
import numpy as np


def init_params(layers, rng):
    params = {}
    for i in range(1, len(layers)):
        params[f"W{i}"] = rng.standard_normal((layers[i], layers[i - 1])) * np.sqrt(1.0 / layers[i])
        params[f"b{i}"] = rng.standard_normal((layers[i], 1)) * np.sqrt(1.0 / layers[i])
    return params


def relu(Z):
    return np.maximum(Z, 0)


def softmax(Z):
    A = np.exp(Z - np.max(Z, axis=0))
    return A / np.sum(A, axis=0)


def forward(X, params, L):
    cache = {"A0": X}
    A = X
    for i in range(1, L + 1):
        Z = params[f"W{i}"].dot(A) + params[f"b{i}"]
        A = softmax(Z) if i == L else relu(Z)
        cache[f"Z{i}"], cache[f"A{i}"] = Z, A
    return A, cache


def one_hot(Y):
    one_hot_Y = np.zeros((Y.size, Y.max() + 1))
    one_hot_Y[np.arange(Y.size), Y] = 1
    return one_hot_Y.T


def backward(Y, params, cache, L):
    m = Y.size
    grads = {}
    dZ = cache[f"A{L}"] - one_hot(Y)
    for i in range(L, 0, -1):
        grads[f"dW{i}"] = 1 / m * dZ.dot(cache[f"A{i - 1}"].T)
        grads[f"db{i}"] = 1 / m * np.sum(dZ, axis=1, keepdims=True)
        if i > 1:
            dZ = params[f"W{i}"].T.dot(dZ) * (cache[f"Z{i - 1}"] > 0)
    return grads


def update(params, grads, alpha, L):
    for i in range(1, L + 1):
        params[f"W{i}"] -= alpha * grads[f"dW{i}"]
        params[f"b{i}"] -= alpha * grads[f"db{i}"]


def gradient_descent(X, Y, layers, alpha=0.05, iterations=500, seed=0, every=10):
    """Yield (iteration, training accuracy) every `every` iterations; X is (784, m) in [0, 1]."""
    rng = np.random.default_rng(seed)
    params = init_params(layers, rng)
    L = len(layers) - 1
    for it in range(1, iterations + 1):
        A, cache = forward(X, params, L)
        grads = backward(Y, params, cache, L)
        update(params, grads, alpha, L)
        if it % every == 0:
            yield it, float(np.mean(np.argmax(A, axis=0) == Y))
