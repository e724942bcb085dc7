"""``image_dataset_from_directory``: a folder of images, one subfolder per class, as batches (Keras 3's function).
Images are decoded by Pillow (``pip install nnkit-keras[image]``) when a batch is read."""
import os

import numpy

from ..primitives import image
from . import directory_dataset

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
#: The Pillow modes an image is converted to, per channel count (grayscale keeps 16- and 32-bit grey as it is).
_PIL_MODES = {1: ("L", ("L", "I;16", "I")), 3: ("RGB", ("RGB",)), 4: ("RGBA", ("RGBA",))}


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb",
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 verbose=True):
    """A dataset of the images in ``directory`` and their labels, as Keras 3 builds it, returned as a
    ``nnkit.utils.BatchDataset`` (Keras returns a ``tf.data.Dataset``) that ``fit`` / ``evaluate`` / ``predict``
    accept and that iterates like one.

    With ``labels="inferred"``, ``directory/class_a/*.jpg`` are class 0, ``directory/class_b/*.jpg`` class 1, ...
    Allowed files: ``.bmp``, ``.gif`` (the first frame), ``.jpeg``, ``.jpg``, ``.png``. With ``shuffle`` the file
    list is permuted by a NumPy RandomState(``seed``) as Keras does, so a seed gives Keras' files in Keras' order
    and the same training / validation split.

    Args:
        directory: the folder of images (in subfolders per class when labels are inferred).
        labels: ``"inferred"`` (from the subfolders), None (no labels), or a list of integer labels, one per file
            in the order of the sorted walk of ``directory``.
        label_mode: ``"int"`` (int32 ``(batch,)``), ``"categorical"`` (float32 one-hot ``(batch, classes)``),
            ``"binary"`` (float32 ``(batch, 1)``; exactly two classes) or None (images only).
        class_names: with inferred labels, the subfolders to use, in the order of their labels (default: all,
            sorted).
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"``: 1, 3 or 4 channels.
        batch_size: images per batch (default 32), or None for single images.
        image_size: ``(height, width)`` (or one int) every image is resized to.
        shuffle: shuffle the files (and reshuffle after every training epoch); False keeps the sorted order.
        seed: the shuffle's seed; required with ``validation_split`` and ``shuffle``.
        validation_split: the fraction of files (the last ones after the shuffle) kept for validation.
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns the pair); only with
            ``validation_split``.
        interpolation: ``"bilinear"`` or ``"nearest"``: Keras 3's resize (half-pixel centres, no antialiasing).
            Keras' other methods (bicubic, area, lanczos, gaussian, mitchellcubic) are not available.
        follow_links: follow symbolic links to folders.
        crop_to_aspect_ratio: resize the largest centred window of the target's aspect ratio (no distortion).
        pad_to_aspect_ratio: pad the image with zeros to the target's aspect ratio, then resize.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        verbose: print how many files and classes were found.

    Returns:
        A ``BatchDataset`` (or a list of two with ``subset="both"``) yielding float32 images
        ``(batch, height, width, channels)`` with values 0-255 and, unless ``label_mode`` is None, their labels;
        ``class_names`` and ``file_paths`` are set on it.

    Example:
        >>> train, validation = nnkit.utils.image_dataset_from_directory(
        ...     "flower_photos", validation_split=0.2, subset="both", seed=1337, image_size=(180, 180))
        >>> model.fit(train, validation_data=validation, epochs=10)
    """
    directory_dataset.check_arguments(labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                                      "image")
    if color_mode not in COLOR_MODES:
        raise ValueError(f'`color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. Received: '
                         f"color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2 or \
            not all(isinstance(side, int) and side > 0 for side in image_size):
        raise ValueError(f"Invalid `image_size` value. Expected a tuple of 2 positive integers. Received: "
                         f"image_size={image_size}")
    interpolation = interpolation.lower()
    if interpolation not in image.INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of {image.INTERPOLATIONS} (nnkit has no bicubic, "
                         f"area, lanczos, gaussian or mitchellcubic resize). Received: interpolation={interpolation}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`.")
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f'`data_format` must be "channels_last" or "channels_first". Received: '
                         f"data_format={data_format}")
    pil_image = _pillow()
    file_paths, labels, label_mode, class_names, seed = directory_dataset.listed_files(
        directory, labels, label_mode, ALLOWLIST_FORMATS, class_names, shuffle, seed, follow_links, verbose)
    reader = ImageReader(pil_image, COLOR_MODES[color_mode], tuple(image_size), interpolation,
                         crop_to_aspect_ratio, pad_to_aspect_ratio, data_format)
    return directory_dataset.datasets(directory, "image", ALLOWLIST_FORMATS, lambda paths: ImageFiles(paths, reader),
                                      file_paths, labels, label_mode, class_names, batch_size, shuffle, seed,
                                      validation_split, subset, verbose)


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("image_dataset_from_directory reads images with Pillow: `pip install nnkit-keras[image]` (or "
                          "`pip install pillow`).") from error
    return Image


class ImageReader:
    """Reads one image file as Keras' Pillow path does: converted to the channel count, as float32, resized to
    ``size`` (after a centred crop or zero padding to its aspect ratio when asked), channels last or first."""

    def __init__(self, pil_image, channels, size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                 data_format):
        self.pil_image, self.channels, self.size = pil_image, channels, size
        self.interpolation, self.data_format = interpolation, data_format
        self.crop, self.pad = crop_to_aspect_ratio, pad_to_aspect_ratio

    def __call__(self, path):
        """The image at ``path``: float32 ``(height, width, channels)`` (or channels first)."""
        try:
            with self.pil_image.open(path) as opened:
                target, kept = _PIL_MODES[self.channels]
                pixels = numpy.asarray(opened if opened.mode in kept else opened.convert(target), dtype=numpy.float32)
        except (OSError, ValueError, SyntaxError) as error:  # what Pillow raises for a damaged or foreign file
            raise ValueError(f"{path}: cannot be read as an image ({error}).") from error
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        H, W = pixels.shape[:2]
        if self.crop:
            window = image.aspect_crop(H, W, *self.size)
        elif self.pad:
            window = image.aspect_pad(H, W, *self.size)
        else:
            window = (0, 0, H, W)
        resized, _ = image.crop_and_resize(pixels[None], window, self.size, self.interpolation)
        resized = resized[0]
        return numpy.ascontiguousarray(resized.transpose(2, 0, 1) if self.data_format == "channels_first" else resized)


class ImageFiles:
    """The images at ``paths`` (a lazy column: ``files[rows]`` reads and stacks those images)."""

    def __init__(self, paths, reader):
        self.paths, self.reader = list(paths), reader

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, rows):
        return numpy.stack([self.reader(os.fspath(self.paths[row])) for row in numpy.atleast_1d(rows)])
