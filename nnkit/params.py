"""The parameter store: every trainable weight of a model is a view into one flat buffer, every gradient a
view into a second buffer of the same layout. One kernel launch then updates all parameters, and global-norm
clipping is one reduction."""
import math

from . import backend


class ParameterStore:
    """Moves the trainable weights of ``layers`` into flat buffers and rebinds each layer to views of them.

    Attributes:
        values, grads: the 1-D buffers.
        entries: ``(layer, weight_name, value_view, grad_view)`` in model order.
    """

    def __init__(self, layers):
        owned = [(layer, spec.name, getattr(layer, spec.name))
                 for layer in layers for spec in layer.weight_specs if spec.trainable]
        dtypes = {w.dtype for _, _, w in owned}
        if len(dtypes) > 1:
            raise ValueError(f"All trainable weights of a model must share one dtype; found {sorted(map(str, dtypes))}.")
        dtype = dtypes.pop() if dtypes else backend.floatx()
        xp = backend.xp()
        total = sum(w.size for _, _, w in owned)
        self.values = xp.empty(total, dtype=dtype)
        self.grads = xp.zeros(total, dtype=dtype)
        self.entries = []
        offset = 0
        for layer, name, current in owned:
            size = math.prod(current.shape)
            value_view = self.values[offset:offset + size].reshape(current.shape)
            grad_view = self.grads[offset:offset + size].reshape(current.shape)
            value_view[...] = backend.to_device(current)
            layer.bind_weight(name, value_view, grad_view)
            self.entries.append((layer, name, value_view, grad_view))
            offset += size

    @property
    def size(self):
        """The number of scalars in the flat buffer."""
        return self.values.size

    def grad_views(self):
        """Each weight's gradient view, in model order (for per-weight clipping)."""
        return [grad for _, _, _, grad in self.entries]

    def owns(self, layers):
        """True while every trainable weight of ``layers`` is still a view of this store."""
        current = [(layer, name) for layer, name, _, _ in self.entries]
        wanted = [(layer, spec.name) for layer in layers for spec in layer.weight_specs if spec.trainable]
        return current == wanted and all(getattr(layer, name) is view for layer, name, view, _ in self.entries)
