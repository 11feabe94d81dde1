"""PLACEHOLDER: being written (replace this whole file)."""

from .module import Module



class Conv2d(Module):
    pass


class ConvTranspose2d(Module):
    pass
