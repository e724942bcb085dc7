"""The parameter store: every trainable weight of a model is a view into one flat buffer, every gradient a
view into a second buffer of the same layout. One kernel launch then updates all parameters, and global-norm
clipping is one reduction.

The layout holds every weight that can train (not moving statistics), whether or not its layer is frozen now:
freezing a layer stops its updates (``trainable_ranges``) but keeps every optimizer slot in place.
"""
import math

from . import backend


class ParameterStore:
    """Moves the trainable weights of ``layers`` (the layers that own weights, each once) into flat buffers and
    rebinds each layer to views of them.

    Attributes:
        values, grads: the 1-D buffers.
        entries: ``(layer, weight_name, value_view, grad_view)`` in model order.
    """

    #: How many times any store has bound weights to its views; a store that made the latest binding is still bound.
    bindings = 0

    def __init__(self, layers):
        owned = [(layer, spec.name, getattr(layer, spec.name)) for layer in layers for spec in layer._own_specs
                 if spec.trainable]
        dtypes = {w.dtype for _, _, w in owned}
        if len(dtypes) > 1:
            raise ValueError(f"All trainable weights of a model must share one dtype; found {sorted(map(str, dtypes))}.")
        dtype = dtypes.pop() if dtypes else backend.floatx()
        xp = backend.xp()
        total = sum(w.size for _, _, w in owned)
        self.values = xp.empty(total, dtype=dtype)
        self.grads = xp.zeros(total, dtype=dtype)
        self.entries = []
        #: A weak reference to the GradientTape that last recorded a call of the model owning this store (or None).
        self.recorded_on = None
        offset = 0
        for layer, name, current in owned:
            size = math.prod(current.shape)
            value_view = self.values[offset:offset + size].reshape(current.shape)
            grad_view = self.grads[offset:offset + size].reshape(current.shape)
            value_view[...] = backend.to_device(current)
            layer.bind_weight(name, value_view, grad_view)
            self.entries.append((layer, name, value_view, grad_view))
            offset += size
        self._binding = self._count_binding()
        self.refresh_trainable()
        from .ops import tape
        tape.register_store(self)  # its weights are values a GradientTape tracks

    @property
    def size(self):
        """The number of scalars in the flat buffer."""
        return self.values.size

    def refresh_trainable(self):
        """Read the layers' ``trainable`` flags again: ``trainable_ranges`` and ``trainable_grad_views`` follow."""
        ranges, offset = [], 0
        for layer, _, value, _ in self.entries:
            if layer.trainable:
                if ranges and ranges[-1][1] == offset:
                    ranges[-1] = (ranges[-1][0], offset + value.size)
                else:
                    ranges.append((offset, offset + value.size))
            offset += value.size
        #: ``[(start, stop)]``: the runs of the flat buffer the optimizer updates (one run when nothing is frozen).
        self.trainable_ranges = ranges
        #: Each trainable weight's gradient view, in model order (for per-weight clipping).
        self.trainable_grad_views = [grad for layer, _, _, grad in self.entries if layer.trainable]

    def holds(self, layers):
        """Whether this store's layout is that of the trainable weights of ``layers`` (same layers, same weights)."""
        current = [(layer, name) for layer, name, _, _ in self.entries]
        return current == [(layer, spec.name) for layer in layers for spec in layer._own_specs if spec.trainable]

    @staticmethod
    def _count_binding():
        ParameterStore.bindings += 1
        return ParameterStore.bindings

    def is_bound(self):
        """Whether every weight still reads this store's views (a model sharing the layers binds them to its own).
        Checked once per binding made since (by any store), so that a training step asks at no cost."""
        if self._binding == ParameterStore.bindings:
            return True
        if not all(getattr(layer, name) is value for layer, name, value, _ in self.entries):
            return False
        self._binding = ParameterStore.bindings
        return True

    def reclaim(self):
        """Bind every weight to this store's views again, copying in its current value where another model that
        shares the layers bound it elsewhere; the optimizer's slots stay. Then read the ``trainable`` flags."""
        rebound = False
        for layer, name, value, grad in self.entries:
            current = getattr(layer, name)
            if current is not value:
                value[...] = current
                layer.bind_weight(name, value, grad)
                rebound = True
        if rebound:
            self._binding = self._count_binding()
        self.refresh_trainable()
