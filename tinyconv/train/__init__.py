"""Training: ``fit`` (epochs, validation, checkpoints, resume, early stopping) and ``evaluate``.

import tinyconv
from tinyconv.train import fit, evaluate
history = fit(model, train_loader, val_loader, epochs=3, optimizer="adam", lr=1e-3,
              checkpoint_dir="runs/demo/checkpoints")
evaluate(model, test_loader)["accuracy"]
"""

from .batches import ArrayBatches
from .callbacks import Callback, EarlyStopping, StopTraining, TrainingDiverged
from .checkpoint import CheckpointManager, latest_checkpoint, load_checkpoint
from .evaluation import evaluate
from .history import History
from .trainer import fit, make_optimizer, optimizer_names

__all__ = [
    "ArrayBatches",
    "Callback",
    "CheckpointManager",
    "EarlyStopping",
    "History",
    "StopTraining",
    "TrainingDiverged",
    "evaluate",
    "fit",
    "latest_checkpoint",
    "load_checkpoint",
    "make_optimizer",
    "optimizer_names",
]
