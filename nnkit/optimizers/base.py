"""The optimizer contract: slot buffers shaped like the model's flat parameter buffer, gradient clipping
(``clipnorm``, ``clipvalue``, ``global_clipnorm``), and one vectorised ``update`` per step."""
import numbers

import numpy

from .. import backend
from .._arguments import check_finite_as, non_negative_int, non_negative_number, positive_number
from ..params import ParameterStore
from . import schedules


class Optimizer:
    """Base of the optimizers: subclasses name their ``slot_names`` and write ``update``.

    Args:
        learning_rate: a finite number >= 0, or a schedule (a callable of the step number, or its serialized
            dict). Keras accepts 0 too (a model that trains nothing, e.g. to read its metrics).
        clipnorm: rescale each weight's gradient to at most this L2 norm.
        clipvalue: clip every gradient element to ``[-clipvalue, clipvalue]``.
        global_clipnorm: rescale all gradients together to at most this joint L2 norm.
        name: defaults to the lower-cased class name.

    At most one of the three clipping arguments may be set; each is a finite number > 0. Every argument is
    checked here, so a bad one fails at construction (Keras' optimizers check only some). A learning rate that is
    no number is a TypeError (Keras: a ValueError), any other bad value a ValueError.
    """
    #: Names of the per-parameter state buffers, each as long as the flat parameter buffer.
    slot_names = ()
    #: The slots that accumulate squared gradients: never negative (a square root is taken of them).
    non_negative_slots = ()

    def __init__(self, learning_rate=0.001, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        owner = type(self).__name__
        clips = {key: value for key, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                              ("global_clipnorm", global_clipnorm)) if value is not None}
        if len(clips) > 1:
            raise ValueError(f"Only one of clipnorm, clipvalue and global_clipnorm can be set. "
                             f"Received: {', '.join(clips)}")
        for key, value in clips.items():
            positive_number(owner, key, value)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{owner}: expected a string for `name`. Received: name={name!r}")
        self.learning_rate = checked_learning_rate(owner, learning_rate)
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.slots = {}
        self._built_for = None  # the ParameterStore the slots belong to

    def build(self, store):
        """Allocate zeroed slot buffers for ``store`` (a ParameterStore) and reset the step count."""
        xp = backend.get_array_module(store.values)
        self.slots = {slot: xp.zeros_like(store.values) for slot in self.slot_names}
        self.iterations = 0
        self._built_for = store

    def apply(self, grads, trainable_variables):
        """Keras' ``optimizer.apply(grads, variables)``: ``grads[i]`` (an array or a GradientTape result) for the
        model weight ``trainable_variables[i]``; see ``apply_gradients``."""
        from ..ops import tape
        given = {}
        for grad, variable in zip(grads, trainable_variables):
            entry = tape.weight_entry(variable)
            if entry is None:
                raise ValueError(f"{type(self).__name__}.apply: every variable must be a weight of a model that has "
                                 f"been called in training (model.trainable_weights after model(x, training=True)); "
                                 f"received an array of shape {tuple(getattr(variable, 'shape', ()))} that is not.")
            given.setdefault(entry[0], {})[entry[1]] = grad
        for store, by_index in given.items():
            for index, (_, _, _, grad_view) in enumerate(store.entries):
                grad = by_index.get(index)
                if grad is None:
                    grad_view.fill(0)
                elif grad is not grad_view:
                    grad_view[...] = tape.unwrap(grad)
            self.apply_gradients(store)

    def current_learning_rate(self):
        """The learning rate for the coming step (a schedule is called with the step number)."""
        if callable(self.learning_rate):
            return float(self.learning_rate(self.iterations))
        return float(self.learning_rate)

    def apply_gradients(self, store):
        """Clip the gradients of ``store`` as configured, then update its values in place: one update over the
        flat buffer, or one per run of it when frozen layers split it (their weights and slots stay as they are).

        Keras' form, ``apply_gradients(zip(grads, variables))`` with a model's weights (a training loop written
        with ``GradientTape``), writes the gradients into the model's flat buffer and updates it the same way;
        weights of the model left out of the list get a zero gradient.
        """
        if not isinstance(store, ParameterStore):
            grads, variables = zip(*store)
            return self.apply(grads, variables)
        if self._built_for is not store:
            self.build(store)
        ranges = store.trainable_ranges
        whole = len(ranges) == 1 and ranges[0][0] == 0 and ranges[0][1] == store.values.size
        runs = [(store.values, store.grads, self.slots)] if whole else [
            (store.values[a:b], store.grads[a:b], {name: slot[a:b] for name, slot in self.slots.items()})
            for a, b in ranges]
        self._clip(store, [grads for _, grads, _ in runs])
        learning_rate = self.current_learning_rate()
        self.iterations += 1
        for params, grads, slots in runs:
            self.update(params, grads, slots, learning_rate)

    def update(self, params, grads, slots, learning_rate):
        """One step on flat buffers: change ``params`` in place from ``grads`` (already clipped) and the state
        buffers ``slots`` (``{slot name: buffer}``, views of ``self.slots`` matching ``params``). ``learning_rate``
        is this step's rate; ``self.iterations`` has already been incremented (1 on the first step).
        """
        raise NotImplementedError

    def _clip(self, store, flat_grads):
        xp = backend.get_array_module(store.grads)
        if self.clipvalue is not None:
            for grads in flat_grads:
                xp.clip(grads, -self.clipvalue, self.clipvalue, out=grads)
        elif self.global_clipnorm is not None:
            _clip_by_norm(xp, flat_grads, self.global_clipnorm)
        elif self.clipnorm is not None:
            for grad in store.trainable_grad_views:
                _clip_by_norm(xp, [grad], self.clipnorm)

    def variables(self):
        """The optimizer state, for checkpoints: the slots in ``slot_names`` order."""
        return [self.slots[name] for name in self.slot_names]

    def load_state(self, slots, iterations):
        """Restore a checkpoint's state into the built optimizer: ``slots`` maps each name of ``slot_names`` to a
        flat array (NumPy or CuPy) as long as the parameter buffer, ``iterations`` is the step count.

        Everything is checked before anything is written (the slot names, the lengths, values finite in the
        slots' dtype, no negative value in a slot of squares, a non-negative integer step count); a ValueError
        says what is wrong, so a damaged state leaves the optimizer as it was.
        """
        owner = type(self).__name__
        if self._built_for is None:
            raise ValueError(f"{owner}.load_state: the optimizer has no slots yet; build it for the model's "
                             f"parameters first (compile the model, then model.optimizer.build(model.store)).")
        iterations = non_negative_int(owner, "iterations", iterations)
        if sorted(slots) != sorted(self.slot_names):
            raise ValueError(f"{owner}.load_state: expected the slots {list(self.slot_names)}. "
                             f"Received: {sorted(slots)}")
        size = self._built_for.values.size
        checked = {}
        for name in self.slot_names:
            value = slots[name]
            array = value if backend.is_device_array(value) else numpy.asarray(value)
            what = f"{owner} slot '{name}'"
            if array.dtype.kind not in "iuf" or tuple(array.shape) != (size,):
                raise ValueError(f"{what}: expected a flat array of {size} real numbers (the parameter count). "
                                 f"Received: dtype {array.dtype}, shape {tuple(array.shape)}")
            check_finite_as(what, array, self.slots[name].dtype)
            if name in self.non_negative_slots and bool((array < 0).any()):
                raise ValueError(f"{what} accumulates squared gradients, so it cannot be negative; the state "
                                 f"given has {int((array < 0).sum())} negative value(s).")
            checked[name] = array
        for name, array in checked.items():
            target = self.slots[name]
            xp = backend.get_array_module(target)
            target[...] = xp.asarray(backend.to_host(array) if xp is numpy else array, dtype=target.dtype)
        self.iterations = iterations

    def get_config(self):
        """The constructor arguments (a schedule as its serialized dict); subclasses add their own."""
        learning_rate = self.learning_rate
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(learning_rate)
        return {"name": self.name, "learning_rate": learning_rate, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}


def _clip_by_norm(xp, grads, max_norm):
    """Scale the arrays ``grads`` together by ``max_norm / max(norm, max_norm)``, their joint L2 norm computed on
    the device (no host synchronisation)."""
    norm = xp.sqrt(sum(xp.dot(g.reshape(-1), g.reshape(-1)) for g in grads))
    scale = max_norm / xp.maximum(norm, max_norm)
    for grad in grads:
        grad *= scale


def checked_learning_rate(owner, learning_rate):
    """``learning_rate`` as the optimizer keeps it: a schedule (a serialized one deserialized), a callable of the
    step, or a float >= 0; anything else is a TypeError (not a number: a string) or a ValueError (negative, NaN,
    inf) naming ``owner``."""
    if isinstance(learning_rate, dict):  # a serialized schedule, as get_config writes it
        return schedules.get(learning_rate)
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"{owner}: expected a number, a LearningRateSchedule or a callable of the step for "
                        f"`learning_rate`. Received: learning_rate={learning_rate!r} (of type "
                        f"{type(learning_rate).__name__})")
    return non_negative_number(owner, "learning_rate", learning_rate)
