"""Launch wrappers for ``kernels/im2col.cu``: im2col and col2im for NHWC convolution (the argument order and
names are those of nnkit.primitives.conv). The GPU ``im2col`` returns the patch matrix contiguous, row-major."""
import numpy

from . import BLOCK, check_array, function, grid_for, output

#: The tiled im2col tabulates one patch's column offsets in shared memory (8 bytes each) ...
_TILED_MAX_PATCH = 4096
#: ... and gives each block about this many elements of cols.
_TILE_ELEMENTS = 8192


def _geometry(N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    values = (N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if any(int(v) < 0 or int(v) >= 2**31 for v in values) or min(SH, SW, DH, DW) < 1:
        raise ValueError(f"im2col/col2im: geometry out of range (N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)"
                         f" = {values}; sizes must lie in [0, 2**31) and strides/dilations be >= 1.")
    if KH * KW * C >= 2**31 or OH * OW >= 2**31 or H * W >= 2**31:
        raise ValueError(f"im2col/col2im: one image (H*W={H * W}, OH*OW={OH * OW}) or one patch "
                         f"(KH*KW*C={KH * KW * C}) is too large for 32-bit indexing.")
    return tuple(numpy.int32(v) for v in values)


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None):
    """The ``(N*OH*OW, KH*KW*C)`` patch matrix of ``x (N, H, W, C)``, zeros in the padding."""
    check_array("im2col", "x", x)
    if x.ndim != 4:
        raise ValueError(f"im2col: 'x' must be NHWC (4-D); received shape {tuple(x.shape)}.")
    N, H, W, C = x.shape
    cols = output("im2col", "out", out, (N * OH * OW, KH * KW * C), x.dtype)
    if cols.size == 0:
        return cols
    geometry = _geometry(N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    patch = KH * KW * C
    if patch <= _TILED_MAX_PATCH and DH * (KH - 1) < 2**15 and DW * (KW - 1) < 2**15:
        R = max(1, min(BLOCK, -(-_TILE_ELEMENTS // patch)))
        function("im2col", "im2col_tiled", x.dtype)(
            (-(-cols.shape[0] // R),), (BLOCK,), (x, cols) + geometry + (numpy.int32(R),),
            shared_mem=16 * R + 8 * patch)
    else:
        function("im2col", "im2col", x.dtype)(grid_for(cols.size), (BLOCK,), (x, cols) + geometry)
    return cols


def col2im(cols, x_shape, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None):
    """``dx (N, H, W, C)``: each input pixel gathers the entries of ``cols`` read from it (no atomics)."""
    N, H, W, C = (int(d) for d in x_shape)
    check_array("col2im", "cols", cols, None, (N * OH * OW, KH * KW * C))
    dx = output("col2im", "out", out, (N, H, W, C), cols.dtype)
    if dx.size:
        function("im2col", "col2im", cols.dtype)(
            grid_for(dx.size), (BLOCK,), (cols, dx) + _geometry(N, H, W, C, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW))
    return dx
