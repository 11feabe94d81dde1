"""Optimizers and learning-rate schedulers, with the update rules and defaults of ``torch.optim``.

opt = tinyconv.optim.Adam(model.parameters(), lr=1e-3)
sched = tinyconv.optim.StepLR(opt, step_size=10, gamma=0.1)
loss.backward(); opt.step(); opt.zero_grad(); sched.step()
"""

from . import schedulers as lr_scheduler  # torch.optim.lr_scheduler spelling
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer, flatten_state_dict, unflatten_state_dict
from .rmsprop import RMSprop
from .schedulers import CosineAnnealingLR, LRScheduler, StepLR
from .sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LRScheduler",
    "Optimizer",
    "RMSprop",
    "StepLR",
    "flatten_state_dict",
    "lr_scheduler",
    "unflatten_state_dict",
]
