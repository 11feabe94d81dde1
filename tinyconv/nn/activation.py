"""PLACEHOLDER: being written (replace this whole file)."""

from .module import Module



class ReLU(Module):
    pass


class LeakyReLU(Module):
    pass


class Sigmoid(Module):
    pass


class Tanh(Module):
    pass


class Softmax(Module):
    pass


class LogSoftmax(Module):
    pass
