"""The one training engine: compile / fit / evaluate / predict and the steps they run, for every kind of model.

``Model`` mixes ``Trainer`` in. A step is public and can be overridden as in Keras; nnkit has no autodiff tape,
so a ``train_step`` is written from explicit building blocks (the default one, with the fused loss)::

    def train_step(self, data):
        x, y, sample_weight = nnkit.trainer.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)                 # forward; every layer call keeps what its backward needs
        loss, y_pred_grad = self.compute_loss_and_gradients(y, y_pred, sample_weight)
        self.backward(y_pred_grad)                      # weight gradients, into the flat gradient buffer
        self.apply_gradients()                          # regularizers' gradients, clipping, one optimizer update
        return self.compute_metrics(x, y, y_pred, sample_weight)   # running logs (loss and metrics)

With ``logits=True`` on ``self(...)``, ``compute_loss_and_gradients`` and ``compute_metrics`` (what the default
step does), an output whose softmax/sigmoid the loss takes over comes out as logits and the loss and its
gradient come from one fused kernel; the decision is made per step and never left on a layer.
"""
import contextlib
import functools
import sys

import numpy

from .. import backend, distribution, metrics as metrics_module, optimizers
from ..callbacks import CallbackList, History, ProgbarLogger
from ..params import ParameterStore
from . import batches, data, weighting
from .compiled import CompiledOutputs
from .logs import LazyLogs, Totals


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a step's ``data``: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    if isinstance(data, tuple) and 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    return data, None, None


def _collective(method):
    """Marks fit / evaluate / predict, which every process of a data-parallel job runs together: when one of them
    raises in one process, every process stops (with the error and its rank) instead of waiting for it."""
    def decorate(function):
        @functools.wraps(function)
        def run(self, *args, **kwargs):
            parallel = distribution.data_parallel()
            if parallel is None:
                return function(self, *args, **kwargs)
            with parallel.stop_all_on_failure(method):
                return function(self, *args, **kwargs)
        return run
    return decorate


class Trainer:
    """compile / fit / evaluate / predict, the batch methods and the overridable steps (see the module docstring).

    The model provides ``graph``, ``input_names``, ``output_names``, ``build_for_data(x)``, ``leaf_layers()``
    and ``backward(dy)``.
    """

    def _init_trainer(self):
        self.optimizer = None
        self.compiled = None
        self.store = None
        self.stop_training = False
        self.history = None
        self._totals = None
        self._batch_losses = None
        self._loss_tracker = None
        self._initial_epoch = None  # where fit resumes, set in on_train_begin by BackupAndRestore (Keras' name)
        self._initial_step = 0  # and the step within that epoch (nnkit's, for a backup taken every N batches)

    # ---- compile -------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None):
        """Configure training.

        Args:
            optimizer: a name (default ``"rmsprop"``, as Keras), a config dict or an Optimizer.
            loss: a name or a Loss; with several outputs one for all, a list (one per output) or a dict keyed by
                output name (an output left out gets no loss). Required unless ``train_step`` is overridden.
            loss_weights: how much each output's loss counts in the total: a list or a dict (default 1 each).
            metrics: a list of names or Metric objects (for every output), or a list of lists / a dict per output;
                ``"accuracy"`` picks binary, categorical or sparse accuracy from the output's loss. Unknown names
                fail here, not at fit time.
            weighted_metrics: metrics as ``metrics``, each weighing every sample by its ``sample_weight`` (or
                ``class_weight``); logged under the metric's name, or ``weighted_<name>`` where an unweighted
                metric has that name, as Keras.
        """
        if loss is None and type(self).train_step is Trainer.train_step:
            raise ValueError("compile() needs a loss, e.g. loss='sparse_categorical_crossentropy' (or override "
                             "train_step to compute one).")
        self.optimizer = optimizers.get(optimizer)
        self.compiled = CompiledOutputs(loss, loss_weights, metrics, weighted_metrics)
        if self.store is not None:
            self.optimizer.build(self.store)

    @property
    def loss(self):
        """The loss given to compile() (None before)."""
        return None if self.compiled is None else self.compiled.loss

    def _require_compiled(self, method):
        if self.compiled is None:
            raise RuntimeError(f"You must call compile() before {method}().")

    def _resolve_outputs(self):
        if self.compiled.graph is self.graph and self._totals is not None:
            return
        shapes = [tensor.shape for tensor in self.graph.flat_outputs]
        self.compiled.resolve(self.output_names, shapes, self.graph)
        self._totals = Totals(self.compiled.names)

    def _ensure_store(self):
        """Gather the trainable weights into the flat buffers (again if layers changed) and read the
        ``trainable`` flags."""
        leaves = self.leaf_layers()
        if self.store is not None and self.store.holds(leaves):
            self.store.reclaim()  # another model sharing these layers may have bound them to its own buffers
        else:
            self.store = ParameterStore(leaves)
            if self.optimizer is not None:
                self.optimizer.build(self.store)
        self._regularized_layers = [layer for layer in leaves if layer.has_regularizers]
        return self.store

    # ---- the building blocks of a step ------------------------------------------------------------------
    def compute_loss_and_gradients(self, y, y_pred, sample_weight=None, logits=False):
        """The batch's total loss (the weighted sum of the outputs' losses plus the weight penalties, a 0-d array
        on the device) and its gradient with respect to ``y_pred`` (in ``y_pred``'s structure; None for an output
        without loss). ``logits=True`` when ``y_pred`` came from ``self(x, training=True, logits=True)``."""
        self._resolve_outputs()
        compiled = self.compiled
        names = self.graph.output_names
        if len(names) == 1 and not isinstance(y_pred, (list, tuple, dict)):
            predictions, targets, weights = [y_pred], data.as_list(y, names, "y"), [sample_weight]
        else:
            predictions = _as_flat(y_pred)
            targets = data.as_list(y, names, "y")
            weights = _per_output_weights(sample_weight, names)
        total, per_output, grads = None, [], []
        for index, (target, prediction, weight) in enumerate(zip(targets, predictions, weights)):
            loss_function = (compiled.train_losses if logits else compiled.losses)[index]
            if loss_function is None:
                grads.append(None)
                continue
            value, grad = loss_function.reduced_forward_backward(target, prediction, weight)
            per_output.append(value)
            scale = compiled.loss_weights[index]
            if scale != 1:
                value = value * scale
                grad *= grad.dtype.type(scale)
            total = value if total is None else total + value
            grads.append(grad)
        if total is None:
            raise ValueError("No output of the model has a loss: give compile() a loss for at least one output.")
        penalty = self._regularization_penalty()
        if penalty is not None:
            total = total + penalty
        for added in self.losses:  # add_loss() in a call: its gradient is seeded in the graph's backward
            total = total + added
        self._batch_losses = (total, per_output if len(predictions) > 1 else [], len(predictions[0]))
        return total, grads if isinstance(y_pred, (list, tuple, dict)) else grads[0]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras 3's ``compute_loss``: the compiled losses (weighted, plus the weight penalties) of ``y_pred``
        against ``y``. Under a recording GradientTape, with ``y_pred`` from ``self(x, training=True)``, a Tensor
        whose gradient is the compiled losses' own (a ``train_step`` written Keras' way)."""
        from ..ops import tape as tape_module
        tape = tape_module.recording()
        predictions = [y_pred] if not isinstance(y_pred, (list, tuple)) else list(y_pred)
        tracked = [tape.tracked(p) for p in predictions] if tape is not None else [None]
        plain = [tape_module.unwrap(p) for p in predictions]
        total, grads = self.compute_loss_and_gradients(y, plain if isinstance(y_pred, (list, tuple)) else plain[0],
                                                       sample_weight)
        if all(t is None for t in tracked):
            return total
        grads = grads if isinstance(y_pred, (list, tuple)) else [grads]
        kept = [(t, g) for t, g in zip(tracked, grads) if t is not None]
        return tape_module.record(total, [t for t, _ in kept], lambda d: [None if g is None else g * d for _, g in kept])

    def apply_gradients(self):
        """After ``backward``: add the regularizers' gradients, then clip and update every trainable weight in one
        optimizer step over the flat buffer."""
        if self.store is None:
            self._ensure_store()
        parallel = distribution.data_parallel()
        if parallel is not None:  # the global batch's gradient, before the penalties (added once) and clipping
            parallel.reduce_gradients(self.store.grads)
        for layer in self._regularized_layers:
            layer.add_regularization_gradients()
        self.optimizer.apply_gradients(self.store)

    def compute_metrics(self, x, y, y_pred, sample_weight=None, logits=False):
        """Add this batch to the running loss (from the last ``compute_loss_and_gradients``) and metrics; returns
        the running logs, read from the device only when a callback reads them."""
        self._resolve_outputs()
        totals, compiled = self._totals, self.compiled
        position = 0
        if self._batch_losses is not None:
            total, per_output, batch_size = self._batch_losses
            self._batch_losses = None
            for value in [total] + per_output:
                totals.values[position] += value * batch_size
                position += 1
        else:
            position = 1 + sum(loss is not None for loss in compiled.losses) * (len(compiled.losses) > 1)
        predictions = _as_flat(y_pred)
        targets = data.as_list(y, self.graph.output_names, "y")
        weights = _per_output_weights(sample_weight, self.graph.output_names)
        weighted_position = position + sum(len(metrics) for metrics in compiled.metrics)
        for index, (target, prediction, activation) in enumerate(zip(targets, predictions, compiled.fused)):
            from_logits = logits and activation is not None
            activated = []  # the outputs behind fused logits, computed once if a metric needs them

            def outputs():
                if not from_logits:
                    return prediction
                if not activated:
                    activated.append(activation.forward(prediction))
                return activated[0]
            for metric in compiled.metrics[index]:  # compile(metrics=) are unweighted, as in Keras
                if metric.stateful:
                    metric.update_state(target, outputs())
                    totals.stateful[position] = metric
                elif from_logits and not metric.accepts_logits:
                    totals.values[position] += metric.batch_total(target, outputs())
                else:
                    totals.values[position] += metric.batch_total(target, prediction, from_logits=from_logits)
                position += 1
            for metric in compiled.weighted_metrics[index]:  # they weigh each sample by its sample_weight
                metric.update_state(target, outputs(), weights[index])
                totals.stateful[weighted_position] = metric
                weighted_position += 1
        totals.count += len(predictions[0])
        return LazyLogs(totals)

    @property
    def metrics(self):
        """Keras' metric trackers: a ``Mean`` named ``loss`` (for a custom ``train_step`` to update), then the
        compiled metrics of every output; ``reset_metrics()`` clears them all (fit does at each epoch)."""
        if self._loss_tracker is None:
            self._loss_tracker = metrics_module.Mean(name="loss")
        resolved = self.compiled is not None and getattr(self.compiled, "metrics", None) is not None
        compiled = [m for output in (self.compiled.metrics + self.compiled.weighted_metrics if resolved else [])
                    for m in output]
        return [self._loss_tracker] + compiled

    def reset_metrics(self):
        """Start new running values: the epoch's totals and every metric tracker's state."""
        if self._totals is not None:
            self._totals.reset()
        for metric in self.metrics:
            metric.reset_state()

    def _regularization_penalty(self):
        if self.store is None:
            self._ensure_store()
        layers = self._regularized_layers
        return sum(layer.regularization_penalty() for layer in layers) if layers else None

    # ---- the steps ---------------------------------------------------------------------------------------
    def train_step(self, data):
        """One training step on a batch ``data = (x, y[, sample_weight])``; returns the running logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True, logits=True)
        _, y_pred_grad = self.compute_loss_and_gradients(y, y_pred, sample_weight, logits=True)
        self.backward(y_pred_grad)
        self.apply_gradients()
        return self.compute_metrics(x, y, y_pred, sample_weight, logits=True)

    def test_step(self, data):
        """One evaluation step (no update); returns the running logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False, logits=True)
        self.compute_loss_and_gradients(y, y_pred, sample_weight, logits=True)
        return self.compute_metrics(x, y, y_pred, sample_weight, logits=True)

    def predict_step(self, data):
        """The model's outputs for a batch (backend arrays, in the outputs' structure)."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # ---- fit / evaluate / predict --------------------------------------------------------------------
    @_collective("fit")
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a ``History``. Arguments as in Keras.

        ``x`` and ``y`` are arrays, lists of arrays (one per input / output) or dicts keyed by input / output
        name. ``sample_weight`` (one weight per sample, or a list / dict per output) or ``class_weight``
        (``{class index: weight}``, single-output models) weigh each sample's loss: ``mean_n(w_n * loss_n)``,
        Keras' "sum over batch size". With ``validation_split`` the validation samples' weights are not used.

        ``x`` may instead be a generator, another iterable or a ``nnkit.utils.PyDataset`` yielding batches
        ``(x, y)`` or ``(x, y, sample_weight)`` (then without ``y``, ``batch_size``, ``sample_weight`` or
        ``validation_split``): an epoch is ``steps_per_epoch`` batches, or (default) one pass over the data; a
        generator is consumed across epochs, so with several epochs it needs ``steps_per_epoch``.
        ``validation_data`` may be such an iterable too (``validation_steps`` batches, default one pass).
        ``validation_freq``: validate after every N-th epoch (an integer), or after the epochs (counted from 1) in
        a list, as Keras.
        """
        self._require_compiled("fit")
        validate_after = _validation_epochs(validation_freq)
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, numpy.integer)) or initial_epoch < 0:
            raise ValueError(f"initial_epoch must be a non-negative integer. Received: initial_epoch={initial_epoch!r}")
        _positive("epochs", epochs)
        parallel = distribution.data_parallel()
        if batches.is_source(x):
            _only_arrays_take("fit", "x", batch_size=batch_size, y=y, sample_weight=sample_weight,
                              validation_split=validation_split or None)
            train = self._source_batches(x, "fit", "the training data (x)", steps_per_epoch, "steps_per_epoch",
                                         class_weight=class_weight, parallel=parallel)
            if class_weight is not None and len(self.output_names) > 1:
                raise ValueError("class_weight is only supported for models with one output (as in Keras); pass "
                                 "sample_weight per output instead.")
            if train.one_shot and steps_per_epoch is None and epochs - initial_epoch > 1:
                raise ValueError(f"fit(epochs={epochs}) on a one-shot generator needs steps_per_epoch: a generator "
                                 f"is used up after one pass (Keras consumes it across epochs). Give "
                                 f"steps_per_epoch, or a re-iterable object such as a nnkit.utils.PyDataset.")
            self._ensure_store()
            validation = self._validation_batches(validation_data, validation_steps, 32, True, epochs - initial_epoch)
            on_device = True
        else:
            if steps_per_epoch is not None:
                _positive("steps_per_epoch", steps_per_epoch)
            if validation_steps is not None:
                _positive("validation_steps", validation_steps)
            batch_size = _positive("batch_size", 32 if batch_size is None else batch_size)
            self.build_for_data(x)
            xs, ys = data.as_list(x, self.input_names, "x"), data.as_list(y, self.output_names, "y")
            weights = _per_output_weights(sample_weight, self.output_names)
            if class_weight is not None and len(ys) > 1:
                raise ValueError("class_weight is only supported for models with one output (as in Keras); pass "
                                 "sample_weight per output instead.")
            validation_arrays = []
            if validation_data is None and validation_split:
                (xs, ys, weights), validation_data = _split(xs, ys, weights, validation_split)
            if validation_data is not None and not batches.is_source(validation_data):
                validation_data = _unpack_validation(validation_data, self)
                validation_arrays = [a for part in validation_data for a in part]
            # The data set goes to the device once when it fits there; else batches are copied over one by one.
            on_device = data.fits_on_device(*xs, *ys, *validation_arrays)
            with _explain_out_of_memory("moving the training data to the device", batch_size):
                xs, ys, count = self._prepare(xs, ys, on_device)
                weights = [weighting.sample_weights(target, weight, class_weight, count)
                           for target, weight in zip(ys, weights)]
                self._ensure_store()
                validation = self._validation_batches(validation_data, validation_steps, batch_size, on_device,
                                                      epochs - initial_epoch)
            rng = (backend.device_rng if on_device else backend.host_rng) if shuffle else None
            train = batches.ArrayBatches(lambda index: self._batch(xs, ys, weights, index), count, batch_size,
                                         rng=rng, steps=steps_per_epoch, argument="steps_per_epoch",
                                         parallel=parallel)
        if parallel is not None:
            parallel.start(self, {"batch_size": batch_size, "samples": getattr(train, "count", None),
                                  "steps per epoch": train.steps, "epochs": epochs, "initial_epoch": initial_epoch,
                                  "model": [type(layer).__name__ for layer in self.leaf_layers()],
                                  "weights": [tuple(w.shape) for w in self.weights]})

        verbose = _resolve_verbose(verbose) if distribution.is_chief() else 0
        callbacks = list(_callbacks_list(callbacks))
        # As in Keras: History and the progress bar come after the user's callbacks (so they see the keys
        # those add to the logs), and ones the user passed are used instead of new ones.
        history = next((c for c in callbacks if isinstance(c, History)), None)
        if history is None:
            history = History()
            callbacks.append(history)
        callbacks = _with_progbar(callbacks, verbose)
        # "metrics": the keys of the epoch logs (Keras 2's params entry), None when a custom train_step decides them
        names = self.compiled.names if type(self).train_step is Trainer.train_step else None
        log_names = None if names is None else names + [f"val_{name}" for name in names if validation is not None]
        callback_list = CallbackList(callbacks, self, {"epochs": epochs, "steps": train.steps, "verbose": verbose,
                                                       "metrics": log_names})
        self.stop_training = False
        self.history = history
        self._initial_epoch, self._initial_step = None, 0
        callback_list.on_train_begin()
        initial_epoch = self._initial_epoch or initial_epoch  # a BackupAndRestore resumes here, as in Keras
        skipped_steps = self._initial_step
        logs = {}
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            train.begin_epoch()
            self.reset_metrics()
            logs = {}
            for step, batch in enumerate(train.epoch()):
                if step < skipped_steps:
                    continue  # done before the interruption that BackupAndRestore resumes from
                callback_list.on_train_batch_begin(step)
                with _explain_out_of_memory("a training step", batch_size):
                    logs = self.train_step(batch)
                callback_list.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            train.end_epoch()
            if parallel is not None:
                parallel.reduce_totals(self._totals)
            skipped_steps = 0
            logs = self._totals.logs() if self._totals.count else {k: float(v) for k, v in dict(logs).items()}
            if not numpy.isfinite(logs.get("loss", 0.0)) and not self.stop_training:
                callback_list.on_train_end(logs)  # callbacks close their files (CSVLogger) before fit raises
                raise FloatingPointError(
                    f"The training loss became {logs['loss']} in epoch {epoch + 1}: training diverged. Lower the "
                    f"learning rate, scale the inputs, or clip gradients (e.g. clipnorm=1.0).")
            if validation is not None and validate_after(epoch + 1):
                logs.update(self._evaluate_batches(validation, prefix="val_", callback_list=callback_list))
            callback_list.on_epoch_end(epoch, logs)
            if parallel is not None:
                parallel.barrier()  # the others wait while rank 0 writes its checkpoints and logs
            if self.stop_training:
                break
        callback_list.on_train_end(logs if epochs > initial_epoch else {})
        return history

    def _validation_batches(self, validation_data, validation_steps, batch_size, on_device, epochs):
        """The validation batches: from ``(x_val, y_val)`` lists (already unpacked), or from an iterable."""
        if validation_data is None:
            return None
        if batches.is_source(validation_data):
            validation = self._source_batches(validation_data, "evaluate", "validation_data", validation_steps,
                                              "validation_steps", parallel=distribution.data_parallel())
            if validation.one_shot and validation_steps is None and epochs > 1:
                raise ValueError("validation_data is a one-shot generator, used up after one pass: give "
                                 "validation_steps (and make it yield batches for every epoch), or a re-iterable "
                                 "object such as a nnkit.utils.PyDataset.")
            return validation
        vxs, vys, vcount = self._prepare(*validation_data, on_device, prefix="validation ")
        return batches.ArrayBatches(lambda index: self._batch(vxs, vys, None, index), vcount, batch_size,
                                    steps=validation_steps, argument="validation_steps",
                                    parallel=distribution.data_parallel())

    def _source_batches(self, source, method, what, steps, argument, class_weight=None, parallel=None):
        """A ``SourceBatches`` over ``source`` whose items are checked as ``method`` needs; builds the model from
        the first batch when it is not built."""
        predicting = method == "predict"

        def check(item, number):
            if isinstance(item, list) and len(item) in (2, 3):
                item = tuple(item)  # as Keras: a list batch (a DataLoader's [x, y]) is (x, y[, sample_weight])
            if predicting:
                x, y, sample_weight = unpack_x_y_sample_weight(item)
            elif isinstance(item, tuple) and 1 <= len(item) <= 3:
                x, y, sample_weight = unpack_x_y_sample_weight(item)
            else:
                raise ValueError(f"{what}: batch {number} is a {type(item).__name__}, but {method} expects each "
                                 f"batch to be a tuple (x, y) or (x, y, sample_weight).")
            try:
                xs = data.as_list(x, self.input_names, "x")
                if predicting:
                    xs = self._prepare_inputs(xs, on_device=False)
                    data.num_samples(xs, "x", empty_ok=True)
                    return (self._batch(xs, [None], None, slice(None))[0],)
                xs, ys, count = self._prepare(xs, data.as_list(y, self.output_names, "y"), on_device=False)
                weights = [weighting.sample_weights(target, weight, class_weight, count) for target, weight
                           in zip(ys, _per_output_weights(sample_weight, self.output_names))]
                return self._batch(xs, ys, weights, slice(None))
            except (ValueError, TypeError) as error:
                raise type(error)(f"{what}, batch {number}: {error}") from error

        source_batches = batches.SourceBatches(source, check, what, steps, argument, parallel=parallel)
        if self.graph is None:
            first = source_batches.first()
            if not predicting and isinstance(first, list) and len(first) in (2, 3):
                first = tuple(first)
            self.build_for_data(unpack_x_y_sample_weight(first)[0])
        if not predicting:
            self._resolve_outputs()
        return source_batches

    @_collective("evaluate")
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss (and metrics) over ``(x, y)``: a float, or ``[loss, *others]`` in log order, or a dict.
        ``x`` may be a generator, an iterable or a PyDataset of ``(x, y[, sample_weight])`` batches (then without
        ``y``, ``batch_size`` or ``sample_weight``); ``steps`` batches are used, or (default) all of them.
        ``callbacks`` get ``on_test_begin``, the test-batch hooks and ``on_test_end``."""
        self._require_compiled("evaluate")
        if batches.is_source(x):
            _only_arrays_take("evaluate", "x", batch_size=batch_size, y=y, sample_weight=sample_weight)
            source = self._source_batches(x, "evaluate", "the evaluation data (x)", steps, "steps",
                                          parallel=distribution.data_parallel())
        else:
            if steps is not None:
                _positive("steps", steps)
            self.build_for_data(x)
            xs, ys = data.as_list(x, self.input_names, "x"), data.as_list(y, self.output_names, "y")
            xs, ys, count = self._prepare(xs, ys, data.fits_on_device(*xs, *ys))
            weights = [weighting.sample_weights(target, weight, None, count)
                       for target, weight in zip(ys, _per_output_weights(sample_weight, self.output_names))]
            batch_size = _positive("batch_size", 32 if batch_size is None else batch_size)
            source = batches.ArrayBatches(lambda index: self._batch(xs, ys, weights, index), count, batch_size,
                                          steps=steps, parallel=distribution.data_parallel())
        verbose = _resolve_verbose(verbose) if distribution.is_chief() else 0
        callback_list = CallbackList(_with_progbar(_callbacks_list(callbacks), verbose), self,
                                     {"steps": source.steps, "verbose": verbose})
        logs = self._evaluate_batches(source, callback_list=callback_list)
        return self._returned(logs, return_dict)

    def _returned(self, logs, return_dict):
        if return_dict:
            return logs
        values = [logs[name] for name in self.compiled.returned_names]
        return values[0] if len(values) == 1 else values

    def _evaluate_batches(self, source, prefix="", callback_list=None):
        self._resolve_outputs()
        self.reset_metrics()
        hooks = callback_list if callback_list is not None else CallbackList([], self, {})
        hooks.on_test_begin()
        for step, batch in enumerate(source.epoch()):
            hooks.on_test_batch_begin(step)
            logs = self.test_step(batch)
            hooks.on_test_batch_end(step, logs)
        parallel = distribution.data_parallel()
        if parallel is not None:
            parallel.reduce_totals(self._totals)
        logs = self._totals.logs()
        hooks.on_test_end(logs)
        return {prefix + name: value for name, value in logs.items()}

    @_collective("predict")
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for ``x`` as NumPy arrays (a list, or a dict, for several outputs). ``x`` may be a
        generator, an iterable or a PyDataset of batches (``x``, or tuples whose first item is ``x``; then without
        ``batch_size``); ``steps`` batches are used, or (default) all of them. ``callbacks`` get
        ``on_predict_begin``, the predict-batch hooks (with ``{"outputs": ...}``) and ``on_predict_end``."""
        parallel = distribution.data_parallel()
        if batches.is_source(x):
            _only_arrays_take("predict", "x", batch_size=batch_size)
            source = self._source_batches(x, "predict", "the prediction data (x)", steps, "steps", parallel=parallel)
            on_device = False  # a stream of unknown length: its outputs are gathered on the host
        else:
            if steps is not None:
                _positive("steps", steps)
            self.build_for_data(x)
            xs = data.as_list(x, self.input_names, "x")
            on_device = data.fits_on_device(*xs) and parallel is None  # shares are gathered on the host
            xs = self._prepare_inputs(xs, on_device)
            count = data.num_samples(xs, "x", empty_ok=True)
            batch_size = _positive("batch_size", 32 if batch_size is None else batch_size)
            source = batches.ArrayBatches(lambda index: (self._batch(xs, [None], None, index)[0],), count,
                                          batch_size, steps=steps, parallel=parallel)
        per_output = [[] for _ in self.graph.flat_outputs]
        verbose = _resolve_verbose(verbose) if distribution.is_chief() else 0
        hooks = CallbackList(_with_progbar(_callbacks_list(callbacks), verbose), self,
                             {"steps": source.steps, "verbose": verbose})
        hooks.on_predict_begin()
        for step, batch in enumerate(source.epoch()):
            hooks.on_predict_batch_begin(step)
            predicted = self.predict_step(batch)
            for collected, output in zip(per_output, _as_flat(predicted)):
                # Streamed inputs get streamed outputs: the results need not fit on the device either.
                collected.append(output if on_device else backend.to_host(output))
            hooks.on_predict_batch_end(step, {"outputs": predicted})
        hooks.on_predict_end()
        if parallel is not None:
            per_output = [parallel.gather_batches(collected) for collected in per_output]
        results = []
        for collected, tensor in zip(per_output, self.graph.flat_outputs):
            xp = backend.get_array_module(collected[0]) if collected else numpy
            # 0 samples: an empty array of the output's shape (an axis of unknown size, such as steps, has 0)
            results.append(backend.to_host(xp.concatenate(collected) if collected else
                                           xp.zeros((0,) + tuple(d or 0 for d in tensor.shape[1:]), backend.floatx())))
        return self._in_output_structure(results)

    def _in_output_structure(self, flat):
        outputs = self.graph.outputs
        if isinstance(outputs, dict):
            return dict(zip(outputs, flat))
        return list(flat) if isinstance(outputs, (list, tuple)) else flat[0]

    # ---- one batch -------------------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on exactly this batch; returns its loss (and metrics) as ``evaluate`` does."""
        self._require_compiled("train_on_batch")
        self.build_for_data(x)
        xs, ys, count = self._prepare(data.as_list(x, self.input_names, "x"), data.as_list(y, self.output_names, "y"))
        weights = [weighting.sample_weights(target, weight, class_weight if len(ys) == 1 else None, count)
                   for target, weight in zip(ys, _per_output_weights(sample_weight, self.output_names))]
        self._ensure_store()
        self.reset_metrics()
        logs = self.train_step(self._batch(xs, ys, weights, slice(None)))
        logs = self._totals.logs() if self._totals.count else {k: float(v) for k, v in dict(logs).items()}
        return self._returned(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on exactly this batch, without an update."""
        self._require_compiled("test_on_batch")
        self.build_for_data(x)
        xs, ys, count = self._prepare(data.as_list(x, self.input_names, "x"), data.as_list(y, self.output_names, "y"))
        weights = [weighting.sample_weights(target, weight, None, count)
                   for target, weight in zip(ys, _per_output_weights(sample_weight, self.output_names))]
        source = batches.ArrayBatches(lambda index: self._batch(xs, ys, weights, index), count, max(count, 1))
        return self._returned(self._evaluate_batches(source), return_dict)

    def predict_on_batch(self, x):
        """The outputs for exactly this batch, as NumPy arrays."""
        return self.predict(x, batch_size=max(data.num_samples(data.as_list(x, self.input_names, "x"), "x",
                                                               empty_ok=True), 1), verbose=0)

    # ---- data ------------------------------------------------------------------------------------------
    def _takes_text(self, tensor):
        """Whether the input ``tensor`` may be given strings: an ``Input(dtype="string")``, or one read by a layer
        that takes text (TextVectorization, StringLookup, Hashing)."""
        return tensor.dtype == "string" or any(node.layer.accepts_text for node in self.graph.nodes
                                               if any(t is tensor for t in node.flat_inputs))

    def _takes_indices(self, tensor):
        """Whether integer data for the input ``tensor`` stay integers: it is read only by layers that take indices
        (``accepts_indices``: Embedding, IntegerLookup, ...). Other layers get floatx (they do not cast, as Keras'
        do, so integers would turn their float32 math into float64), whatever the ``Input``'s dtype."""
        readers = [node.layer for node in self.graph.nodes if any(t is tensor for t in node.flat_inputs)]
        return bool(readers) and all(getattr(layer, "accepts_indices", False) for layer in readers)

    def _input_label(self, index, prefix=""):
        return prefix + ("x" if len(self.input_names) == 1 else f"x['{self.input_names[index]}']")

    def _prepare_inputs(self, xs, on_device=True, prefix=""):
        """Check and convert every input array (a list, one per input)."""
        return [data.as_input_array(a, tensor.shape, self._input_label(i, prefix), on_device=on_device,
                                    takes_text=self._takes_text(tensor), takes_indices=self._takes_indices(tensor))
                for i, (a, tensor) in enumerate(zip(xs, self.graph.flat_inputs))]

    def _prepare(self, xs, ys, on_device=True, prefix=""):
        """Check and convert every input and target array (``prefix``: ``"validation "`` names validation data in
        errors); returns ``(xs, ys, number of samples)``."""
        self._resolve_outputs()
        xs = self._prepare_inputs(xs, on_device, prefix)
        count = data.num_samples(xs, prefix + "x")
        checked = []
        for index, (target, loss, tensor) in enumerate(zip(ys, self.compiled.losses, self.graph.flat_outputs)):
            what = prefix + ("y" if len(ys) == 1 else f"y['{self.output_names[index]}']")
            if loss is None or (target is None and type(self).train_step is not Trainer.train_step):
                loss = None
            elif target is None:
                raise ValueError(f"{what} is missing: output '{self.output_names[index]}' has a loss, so fit and "
                                 f"evaluate need its targets.")
            checked.append(None if target is None else data.as_target_array(
                target, loss, tensor.shape, count, what, on_device,
                self.compiled.metrics[index] + self.compiled.weighted_metrics[index]))
        return xs, checked, count

    def _batch(self, xs, ys, weights, index):
        x = [backend.to_device_staged(a[index]) for a in xs]
        y = [None if a is None else backend.to_device_staged(a[index]) for a in ys]
        w = [None if a is None else a[index] for a in weights] if weights is not None else [None] * len(ys)
        single = len(ys) == 1
        inputs, targets = x if len(x) > 1 else x[0], y[0] if single else y
        if not any(a is not None for a in w):
            return inputs, targets  # as Keras: (x, y), and (x, y, sample_weight) only when weights are given
        return inputs, targets, w[0] if single else w


def _as_flat(structure):
    if isinstance(structure, dict):
        return list(structure.values())
    return list(structure) if isinstance(structure, (list, tuple)) else [structure]


def _callbacks_list(callbacks):
    """``callbacks`` as a list (None: none); a single Callback or another type is a TypeError naming the slip."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of nnkit.callbacks.Callback objects. Received: {callbacks!r}; "
                        f"pass callbacks=[...] even for one.")
    return list(callbacks)


def _with_progbar(callbacks, verbose):
    """``callbacks`` with Keras' progress display appended when ``verbose`` (unless the user passed one)."""
    if verbose and not any(isinstance(c, ProgbarLogger) for c in callbacks):
        return callbacks + [ProgbarLogger(verbose)]
    return callbacks


def _per_output_weights(sample_weight, output_names):
    """``sample_weight`` as one entry per output: one array applies to every output (as in Keras)."""
    if sample_weight is None:
        return [None] * len(output_names)
    if isinstance(sample_weight, (dict, list, tuple)) and len(output_names) > 1:
        return data.as_list(sample_weight, output_names, "sample_weight")
    return [sample_weight] * len(output_names)


def _split(xs, ys, weights, fraction):
    arrays = xs + ys + weights
    train, validation = data.split_validation(arrays, fraction)
    n_x, n_y = len(xs), len(ys)
    return (train[:n_x], train[n_x:n_x + n_y], train[n_x + n_y:]), (validation[:n_x], validation[n_x:n_x + n_y])


@contextlib.contextmanager
def _explain_out_of_memory(doing, batch_size):
    """Turn the backend's out-of-memory error into one that says what ran out and what to try."""
    try:
        yield
    except backend.device_out_of_memory_errors() as error:
        size = f" (batch_size={batch_size})" if batch_size is not None else " (batches from the data source)"
        raise MemoryError(f"Out of {backend.name().upper()} memory while {doing}{size}: "
                          f"{error}. Try a smaller batch_size, a smaller model, or less data per fit call."
                          ) from error


def _unpack_validation(validation_data, model):
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val).")
    return (data.as_list(validation_data[0], model.input_names, "validation_data x"),
            data.as_list(validation_data[1], model.output_names, "validation_data y"))


def _only_arrays_take(method, what, **given):
    """A ValueError when arguments meant for array data come with a generator / iterable / PyDataset."""
    for name, value in given.items():
        if value is not None:
            where = ("each batch is (x, y) or (x, y, sample_weight)" if name in ("y", "sample_weight") else
                     "the batches' size is the data's" if name == "batch_size" else
                     "pass validation_data instead")
            raise ValueError(f"{method}() does not take {name}= when {what} is a generator, an iterable or a "
                             f"PyDataset of batches ({where}).")


def _validation_epochs(validation_freq):
    """Whether fit validates after epoch ``n`` (counted from 1): every ``validation_freq``-th, or those listed."""
    if isinstance(validation_freq, (list, tuple, set)):
        listed = set(validation_freq)
        if not all(isinstance(n, (int, numpy.integer)) and not isinstance(n, bool) and n >= 1 for n in listed):
            raise ValueError(f"validation_freq as a list must hold epoch numbers counted from 1. "
                             f"Received: validation_freq={validation_freq!r}")
        return listed.__contains__
    every = _positive("validation_freq", validation_freq)
    return lambda epoch: epoch % every == 0


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _resolve_verbose(verbose):
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
    return verbose
