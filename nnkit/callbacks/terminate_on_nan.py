"""TerminateOnNaN: stop training at the first batch whose loss is NaN or infinite."""
import math

from .base import Callback


class TerminateOnNaN(Callback):
    """Stops ``fit`` after the batch where the running loss becomes NaN or Inf (``fit`` then returns normally).

    Reading the loss each batch copies one number from the device, so use it where divergence is likely.

    Example:
        >>> model.fit(x, y, callbacks=[TerminateOnNaN()])
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
