"""``plot_history``: the learning curves of a ``fit`` as a PNG (needs matplotlib: ``pip install nnkit-keras[plot]``)."""
import os


def plot_history(history, path, title=None):
    """Save the loss and every metric per epoch, training and validation side by side, as an image.

    Args:
        history: the ``History`` that ``fit`` returns, or its ``history`` dict (``{"loss": [...], ...}``).
        path: where to write the image (PNG unless the suffix names another format matplotlib knows).
        title: an optional title over the panels.

    Returns ``path``.

    Example:
        >>> history = model.fit(x, y, epochs=5, validation_split=0.1)
        >>> nnkit.utils.plot_history(history, "curves.png")
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as error:
        raise ImportError("plot_history needs matplotlib, which is not installed. Install it with "
                          "`pip install nnkit-keras[plot]` (or `pip install matplotlib`).") from error
    logs = getattr(history, "history", history)
    names = [name for name in logs if not name.startswith("val_")]
    names.sort(key=lambda name: (name != "loss", name))
    if not names or not any(logs[name] for name in names):
        raise ValueError("plot_history: the history holds no epochs to plot (was fit run for at least one epoch?).")
    figure = Figure(figsize=(4.5 * len(names), 3.5), layout="constrained")
    FigureCanvasAgg(figure)
    for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names):
        epochs = range(1, len(logs[name]) + 1)
        axes.plot(epochs, logs[name], marker="o", label="training")
        if logs.get("val_" + name):
            axes.plot(range(1, len(logs["val_" + name]) + 1), logs["val_" + name], marker="o", label="validation")
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    figure.savefig(os.fspath(path))
    return path
