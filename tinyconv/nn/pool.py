"""PLACEHOLDER: being written (replace this whole file)."""

from .module import Module



class MaxPool2d(Module):
    pass


class AvgPool2d(Module):
    pass


class MinPool2d(Module):
    pass


class AdaptiveAvgPool2d(Module):
    pass
