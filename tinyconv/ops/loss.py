"""PLACEHOLDER: being written (replace this whole file)."""


def _todo(*a, **k):
    raise NotImplementedError("not written yet")


cross_entropy = _todo
nll_loss = _todo
mse_loss = _todo
