"""``tinyconv.nn.functional``: the same functions as ``tinyconv.functional``, PyTorch's path.

import tinyconv.nn.functional as F     # as with torch.nn.functional
F.relu(x), F.conv2d(x, w), F.cross_entropy(logits, y)
"""

from ..functional import *  # noqa: F403  (the one functional interface, under a second name)
from ..functional import __all__  # noqa: F401
