"""EinsumDense (Keras 3's): a kernel contracted with the input by an einsum equation, plus bias and activation.

The equation has one of Keras' three forms: ``ab,bc->ac`` (no ellipsis), ``...b,bc->...c`` (ellipsis on the
left) or ``ab...,bc->ac...`` (on the right, after at least two letters). Every kernel letter appears in the
input or in the output; a letter of the output and of the kernel takes its size from ``output_shape``, a
letter of the input only from the input. The backward pass is two more einsums, made from the forward one by
swapping the output with the operand whose gradient is wanted (``einsum_gradient_equations``).
"""
import functools
import math
import re
import string

from .. import backend, initializers, primitives
from .affine import AffineLayer

_LETTERS = "[a-zA-Z]"
#: Keras' three equation forms, each with where its ellipsis sits.
_FORMS = [(re.compile(rf"({_LETTERS}+),({_LETTERS}+)->({_LETTERS}+)"), None),
          (re.compile(rf"\.\.\.({_LETTERS}+),({_LETTERS}+)->\.\.\.({_LETTERS}+)"), "left"),
          (re.compile(rf"({_LETTERS}{{2,}})\.\.\.,({_LETTERS}+)->({_LETTERS}+)\.\.\."), "right")]


def parse_equation(equation):
    """``(input_spec, kernel_spec, output_spec, ellipsis)`` of an EinsumDense equation; ``ellipsis`` is None,
    ``"left"`` or ``"right"``. A string of another form, or a letter repeated within one spec, is a ValueError.
    """
    for pattern, ellipsis in _FORMS:
        match = pattern.fullmatch(equation) if isinstance(equation, str) else None
        if match:
            specs = match.groups()
            if any(len(set(spec)) != len(spec) for spec in specs):
                raise ValueError(f"EinsumDense: a letter repeated within one operand (a diagonal) is not supported. "
                                 f"Received: equation={equation!r}")
            return specs + (ellipsis,)
    raise ValueError(f"EinsumDense: invalid einsum equation {equation!r}. Equations must be in the form "
                     "[X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


@functools.lru_cache(maxsize=None)
def einsum_gradient_equations(equation):
    """The backward of ``z = einsum(equation, a, b)`` (two operands, no ellipsis, no repeated letter).

    Returns ``(da, db)``, each ``(equation, summed_axes)``: ``einsum(da[0], dz, b)`` is the gradient of ``a``
    once broadcast back over ``da[1]`` (the axes of ``a`` summed away by the forward pass alone: their letter
    is in neither ``b`` nor ``z``); likewise ``einsum(db[0], a, dz)`` for ``b``. For ``abc,cde->abde``:
    ``da = ("abde,cde->abc", ())`` and ``db = ("abc,abde->cde", ())``.
    """
    inputs, z = equation.split("->")
    a, b = inputs.split(",")

    def gradient(spec, first, second):
        kept = "".join(c for c in spec if c in first + second)
        return f"{first},{second}->{kept}", tuple(i for i, c in enumerate(spec) if c not in kept)
    return gradient(a, z, b), gradient(b, a, z)


#: Multiply-adds from which NumPy's einsum goes through BLAS (``optimize``): below, its path search (~0.1 ms)
#: costs more than the plain loop saves.
_BLAS_WORK = 1 << 17


def _einsum(equation, a, b):
    """``einsum(equation, a, b)`` for two operands, through BLAS when the product is large enough."""
    inputs = equation.split("->")[0].split(",")
    sizes = {**dict(zip(inputs[0], a.shape)), **dict(zip(inputs[1], b.shape))}
    return backend.get_array_module(a).einsum(equation, a, b, optimize=math.prod(sizes.values()) >= _BLAS_WORK)


@functools.lru_cache(maxsize=None)
def _explicit_equation(specs, ndim):
    """The forward equation for an input of rank ``ndim``, with the ellipsis spelled out in unused letters."""
    input_spec, kernel_spec, output_spec, ellipsis = specs
    free = "".join(c for c in string.ascii_letters if c not in input_spec + kernel_spec + output_spec)
    elided = free[:ndim - len(input_spec)]
    if ellipsis == "left":
        input_spec, output_spec = elided + input_spec, elided + output_spec
    elif ellipsis == "right":
        input_spec, output_spec = input_spec + elided, output_spec + elided
    return f"{input_spec},{kernel_spec}->{output_spec}"


class EinsumDense(AffineLayer):
    """A dense layer of any dimensionality: ``activation(einsum(equation, x, kernel) + bias)``.

    Args:
        equation: ``"ab,bc->ac"``, ``"...b,bc->...c"`` or ``"ab...,bc->ac..."`` style: input, kernel, output.
        output_shape: the output's shape without the batch axis and the ellipsis' axes (an int for one axis);
            ``None`` entries are taken from the input (a letter shared with it).
        activation: name or Activation (default linear), applied over the last axis.
        bias_axes: output letters that get a bias (e.g. ``"de"``), or None for no bias.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as in Keras. A variance
            scaling initializer (``"glorot_uniform"``) counts fans over the kernel's input and output letters.
        lora_rank: not supported (must be None).

    Input shape: N-D, of the rank the equation's input spec (and ellipsis) gives.

    Output shape: the batch axis, then ``output_shape`` and the ellipsis' axes, in the equation's order.

    Example:
        >>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")
        >>> layer(numpy.ones((2, 5, 16))).shape
        (2, 5, 4, 8)
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, lora_rank=None, **kwargs):
        super().__init__(activation=activation, use_bias=bias_axes is not None, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, **kwargs)
        if lora_rank is not None:
            raise ValueError(f"EinsumDense: LoRA is not supported by nnkit; expected lora_rank=None. "
                             f"Received: lora_rank={lora_rank!r}")
        self.equation = equation
        self._specs = parse_equation(equation)
        input_spec, kernel_spec, output_spec, _ = self._specs
        for c in output_spec:
            if c not in input_spec + kernel_spec:
                raise ValueError(f"EinsumDense: dimension '{c}' of the output spec '{output_spec}' is in neither the "
                                 f"input spec '{input_spec}' nor the kernel spec '{kernel_spec}'.")
        for c in kernel_spec:
            if c not in input_spec + output_spec:
                raise ValueError(f"EinsumDense: kernel dimension '{c}' is in neither the input spec '{input_spec}' "
                                 f"nor the output spec '{output_spec}'; the kernel must be fully specified.")
        self.partial_output_shape = _checked_output_shape(output_shape)
        if bias_axes is not None:
            if not isinstance(bias_axes, str) or not bias_axes:
                raise ValueError(f"EinsumDense: expected a non-empty string of output letters for `bias_axes`. "
                                 f"Received: bias_axes={bias_axes!r}")
            for c in bias_axes:
                if c not in output_spec:
                    raise ValueError(f"EinsumDense: bias dimension '{c}' was requested, but is not part of the "
                                     f"output spec '{output_spec}'. Received: bias_axes={bias_axes!r}")
        self.bias_axes = bias_axes

    def _error(self, message):
        return ValueError(f"Layer '{self.name}' (EinsumDense): {message}")

    def _analyze(self, input_shape):
        """``(kernel_shape, bias_shape, output_shape, kernel_input_axes, kernel_output_axes)`` for
        ``input_shape``, as Keras' ``_analyze_einsum_string`` (``None`` output sizes of input letters filled in)."""
        input_spec, kernel_spec, output_spec, ellipsis = self._specs
        input_shape = tuple(input_shape)
        elided = len(input_shape) - len(input_spec)
        if elided < 0 or (elided and ellipsis is None):
            raise self._error(f"the equation '{self.equation}' expects an input of rank "
                              f"{len(input_spec)}{' or more' if ellipsis else ''}, but received input of shape "
                              f"{input_shape}.")
        # The ellipsis' axes (the batch axis among them on the left) and the input spec's, in input order.
        if ellipsis == "left" and elided:
            leading, trailing = input_shape[:elided], ()
        else:
            leading, trailing = input_shape[:1], input_shape[len(input_spec):]
        partial = self.partial_output_shape
        if len(leading) + len(partial) + len(trailing) != len(output_spec) + elided:
            raise self._error(f"output_shape {partial} does not fit the output spec '{output_spec}': expected "
                              f"{len(output_spec) + elided - len(leading) - len(trailing)} dimension(s) "
                              f"(without the batch axis and the ellipsis' axes).")
        input_start = elided if ellipsis == "left" else 0
        input_sizes = {c: input_shape[input_start + i] for i, c in enumerate(input_spec)}
        output_start = len(leading) if ellipsis == "left" and elided else 0
        output_sizes = dict(zip(output_spec, (leading + partial)[output_start:]))
        for c, size in input_sizes.items():
            if c in output_sizes and output_sizes[c] is not None and size is not None and output_sizes[c] != size:
                raise self._error(f"input shape and output shape do not match at shared dimension '{c}'. Input shape "
                                  f"is {size}, and output shape is {output_sizes[c]}.")
            if output_sizes.get(c, 0) is None:
                output_sizes[c] = size
        output_shape = leading[:output_start] + tuple(output_sizes[c] for c in output_spec) + trailing
        kernel_shape = tuple(output_sizes[c] if c in output_sizes else input_sizes[c] for c in kernel_spec)
        if None in kernel_shape:
            raise self._error(f"the kernel shape {kernel_shape} ('{kernel_spec}') is not fully known for input shape "
                              f"{input_shape} and output_shape {partial}; give the sizes in output_shape.")
        bias_shape = None
        if self.bias_axes is not None:
            bias_spec = output_spec[min(output_spec.index(c) for c in self.bias_axes):]
            bias_shape = tuple(output_sizes[c] if c in self.bias_axes else 1 for c in bias_spec) + (1,) * len(trailing)
        kernel_output_axes = [i for i, c in enumerate(kernel_spec) if c in output_spec]
        kernel_input_axes = [i for i, c in enumerate(kernel_spec) if c not in output_spec]
        return kernel_shape, bias_shape, output_shape, kernel_input_axes, kernel_output_axes

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = self._analyze(input_shape)
        # What a later input must keep (as Keras' input spec, the rank; and the sizes the weights were made for).
        input_spec, kernel_spec, _, ellipsis = self._specs
        start = len(input_shape) - len(input_spec) if ellipsis == "left" else 0
        self._input_rank = len(input_shape)
        self._weight_sizes = {start + i: (c, input_shape[start + i]) for i, c in enumerate(input_spec)
                              if c in kernel_spec + (self.bias_axes or "") and input_shape[start + i] is not None}
        initializer = self.kernel_initializer
        if isinstance(initializer, initializers.VarianceScaling):
            # Keras' fans for EinsumDense: the products of the kernel's input axes and of its output axes. The
            # draws are independent, so drawing that (fan_in, fan_out) matrix and reshaping it gives the kernel.
            fans = (math.prod(kernel_shape[i] for i in input_axes), math.prod(kernel_shape[i] for i in output_axes))

            def initializer(shape, dtype):
                return self.kernel_initializer(fans, dtype).reshape(shape)
        self.add_weight(name="kernel", shape=kernel_shape, initializer=initializer, regularizer=self.kernel_regularizer)
        if bias_shape is not None:
            self.add_weight(name="bias", shape=bias_shape, initializer=self.bias_initializer,
                            regularizer=self.bias_regularizer)

    def compute_output_shape(self, input_shape):
        return self._analyze(input_shape)[2]

    def _bias_is_per_column(self):
        """Whether the bias runs along the last output axis only (then the fused bias kernels take it)."""
        return self.use_bias and self.bias.shape == self._y_shape[-1:]

    def forward(self, x, training=False):
        if x.ndim != self._input_rank:
            raise self._error(f"expected an input of rank {self._input_rank}, but received input of shape "
                              f"{tuple(x.shape)}.")
        for axis, (letter, size) in self._weight_sizes.items():
            if x.shape[axis] != size:
                raise self._error(f"expected axis {axis} ('{letter}' of '{self.equation}') of size {size}, as the "
                                  f"layer was built for, but received input of shape {tuple(x.shape)}.")
        xp = backend.get_array_module(x)
        self._x = x
        z = xp.ascontiguousarray(_einsum(_explicit_equation(self._specs, x.ndim), x, self.kernel))
        self._y_shape = z.shape
        bias = self.bias_or_none
        if bias is not None and not self._bias_is_per_column():
            z += bias
            bias = None
        z = z.reshape(-1, z.shape[-1])
        activation = self.output_activation()
        self._y = primitives.bias_activation(z, bias, activation)
        self._z = z if activation.needs_input else None
        return self._y.reshape(self._y_shape)

    def backward(self, dy):
        xp = backend.get_array_module(dy)
        d_input, d_kernel = einsum_gradient_equations(_explicit_equation(self._specs, self._x.ndim))
        # ==== dz (activation and bias) ====
        fused_bias_grad = self.bias_grad_or_none if self._bias_is_per_column() else None
        dz = primitives.bias_activation_backward(dy.reshape(self._y.shape), self._z, self._y, self.output_activation(),
                                          fused_bias_grad).reshape(self._y_shape)
        # ==== db ====
        if self.bias_grad_or_none is not None and fused_bias_grad is None:
            lead = dz.ndim - self.bias.ndim
            axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(self.bias.shape) if n == 1)
            self.grads["bias"][...] = dz.sum(axis=axes, keepdims=True).reshape(self.bias.shape)
        # ==== dW ====
        if "kernel" in self.grads:
            self.grads["kernel"][...] = _einsum(d_kernel[0], self._x, dz)
        # ==== dx ====
        if not self.needs_input_gradient:
            return None
        equation, summed = d_input
        dx = _einsum(equation, dz, self.kernel)
        if summed:
            dx = xp.broadcast_to(xp.expand_dims(dx, summed), self._x.shape).copy()
        return dx

    def get_config(self):
        config = {**super().get_config(), "equation": self.equation, "output_shape": list(self.partial_output_shape),
                  "bias_axes": self.bias_axes}
        del config["use_bias"]
        return config


def _checked_output_shape(output_shape):
    """``output_shape`` as a tuple of positive ints and Nones (an int is one axis)."""
    shape = (output_shape,) if isinstance(output_shape, int) and not isinstance(output_shape, bool) else output_shape
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if shape is None or not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                                for d in shape):
        raise ValueError("EinsumDense: expected a positive integer or a sequence of positive integers and None for "
                         f"`output_shape`. Received: output_shape={output_shape!r}")
    return tuple(None if d is None else int(d) for d in shape)
