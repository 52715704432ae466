"""Architecture schematics (the paper's Fig. 5 and its supplementary figures).

:func:`layer_summary` runs one dummy spectrum through a network with forward hooks and lists its
named blocks in execution order; :func:`plot_architecture` draws them as a compact, PlotNeuralNet-like
block diagram (one box per block: height ~ log of the feature length, width ~ log of the channels).

Blocks are the model's top-level children, with plain containers (``nn.Sequential``,
``nn.ModuleList``) of more than one layer opened one level; activations and dropout are left out
(they have no parameters and keep the shape). A block called several times (the U-Net's max-pool)
gives one row per call, its parameters counted on the first. Parameters owned by the model itself
(the ViT/CCT position embeddings) are counted with the first block, whose name says so.
Build paper-size models under ``torch.device("meta")``: shapes and counts without memory or compute.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import nn

from . import count_parameters, create_model
from ._common import N_CHANNELS

_HIDDEN = (nn.ReLU, nn.GELU, nn.Dropout, nn.Identity)
_NORM = (nn.BatchNorm1d, nn.LayerNorm)
_CONV = (nn.Conv1d, nn.MaxPool1d, nn.Upsample)
#: colour of each kind of block in the diagram
COLOURS = {"input": "#d9d9d9", "conv": "#f4a261", "pool": "#e76f51", "up": "#2a9d8f", "dense": "#8ecae6",
           "transformer": "#b39ddb", "output": "#e63946"}


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of the top-level blocks; plain containers of several layers (not counting
    activations, dropout and normalisation: conv-BN-ReLU stays one block) opened one level."""
    out = []
    for name, child in model.named_children():
        inner = [(f"{name}.{n}", c) for n, c in child.named_children() if not isinstance(c, _HIDDEN)]
        if type(child) in (nn.Sequential, nn.ModuleList) and sum(not isinstance(c, _NORM) for _, c in inner) > 1:
            out += inner
        elif not isinstance(child, _HIDDEN):
            out.append((name, child))
    return out


def _kind(module: nn.Module) -> str:
    """'transformer', 'up', 'conv', 'pool' or 'dense': what the block mostly is."""
    types = {type(m).__name__ for m in module.modules()}
    for kind, names in (("transformer", {"Transformer", "Attention"}), ("up", {"Upsample"}),
                        ("conv", {"Conv1d", "SameConv1d"}), ("pool", {"MaxPool1d"})):
        if types & names:
            return kind
    return "dense"


def layer_summary(model: nn.Module, n_channels: int = N_CHANNELS):
    """pandas DataFrame of the named blocks of ``model`` in execution order for one dummy spectrum.

    Columns: ``block`` (name), ``type``, ``kind`` (conv, pool, up, dense, transformer), ``output``
    (``"C x L"`` channels x length, ``"N x D"`` tokens x dim, or ``"F"`` features), ``layout``,
    ``channels`` and ``length`` (numbers behind ``output``; tokens count as length), ``repeats``
    (encoder layers of a transformer block, else 1) and ``parameters`` (trainable).
    """
    import pandas as pd

    if not isinstance(n_channels, int) or n_channels < 1:
        raise ValueError(f"n_channels (spectrum length in channels) must be a positive int, got {n_channels!r}")
    blocks = _blocks(model)
    rows, seen = [], set()

    def hook(name, module):
        def record(_, __, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            shape = tuple(out.shape[1:])
            channels_first = any(isinstance(m, _CONV) for m in module.modules())
            if len(shape) == 1:
                layout, channels, length = "features", 1, shape[0]
            elif channels_first:
                layout, (channels, length) = "channels x length", shape
            else:
                layout, (length, channels) = "tokens x dim", shape
            layers = getattr(module, "layers", None)
            rows.append(dict(block=name, type=type(module).__name__, kind=_kind(module),
                             output=" x ".join(map(str, shape)), layout=layout, channels=int(channels),
                             length=int(length), repeats=len(layers) if isinstance(layers, nn.ModuleList) else 1,
                             parameters=0 if name in seen else count_parameters(module)))
            seen.add(name)
        return record

    handles = [m.register_forward_hook(hook(n, m)) for n, m in blocks]
    device = next(model.parameters()).device
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, n_channels, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    own = [(n, p) for n, p in model.named_parameters(recurse=False) if p.requires_grad]
    if own and rows:
        rows[0]["parameters"] += sum(p.numel() for _, p in own)
        rows[0]["block"] += "".join(f" + {n}" for n, _ in own)
    return pd.DataFrame(rows)


def _box(ax, x: float, width: float, height: float, colour: str, depth: float = 0.25) -> None:
    """A pseudo-3-D box (front, top and side faces) centred on y = 0."""
    from matplotlib.patches import Polygon, Rectangle

    lo, hi = -height / 2, height / 2
    ax.add_patch(Rectangle((x, lo), width, height, facecolor=colour, edgecolor="k", lw=0.6))
    for face, shade in (([(x, hi), (x + depth, hi + depth), (x + width + depth, hi + depth), (x + width, hi)], 0.75),
                        ([(x + width, lo), (x + width + depth, lo + depth), (x + width + depth, hi + depth),
                          (x + width, hi)], 0.55)):
        ax.add_patch(Polygon(face, closed=True, facecolor=colour, edgecolor="k", lw=0.6, alpha=shade))


def _label(row) -> str:
    """Box caption: block name (transformers: 'N x encoder') and output shape."""
    name = f"{row.repeats} x encoder" if row.kind == "transformer" and row.repeats > 1 else row.block
    return f"{name}\n{row.output}".replace(" + ", "\n+ ")


def plot_architecture(name: str, config: str = "paper", ax=None, **options):
    """Block diagram of architecture ``name`` at ``config`` ('paper' or 'cpu') with constructor ``options``.

    One box per block of :func:`layer_summary` (height ~ log2 of the length, width ~ log2 of the
    channels), captioned with its name and output shape; the U-Net's skip connections as arcs.
    The model is built on the meta device (no weights). Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Patch

    with torch.device("meta"):
        model = create_model(name, config, **options)
    summary = layer_summary(model)
    rows = [dict(block="input", kind="input", output=f"1 x {N_CHANNELS}", channels=1, length=N_CHANNELS,
                 repeats=1)] + summary.to_dict("records")
    rows[-1]["kind"] = "output"
    rows = [SimpleNamespace(**r, width=0.25 + 0.1 * math.log2(r["channels"] + 1),
                            height=0.3 + 0.32 * math.log2(r["length"])) for r in rows]
    gap = 0.45
    xs = [sum(r.width + gap for r in rows[:i]) for i in range(len(rows))]
    centres = {}
    for r, x in zip(rows, xs):
        centres.setdefault(r.block, (x + r.width / 2, r.height / 2 + 0.25))
    down, ups = [b for b in centres if b.startswith("down.")], [b for b in centres if b.startswith("up.")]
    skips = [(centres[down[len(down) - 2 - j]], centres[up]) for j, up in enumerate(ups)]  # up.j + down.(n-2-j)
    top = max(r.height for r in rows) / 2
    arcs = max((b[0] - a[0] for a, b in skips), default=0.0) * 0.25   # arc3 peak 0.175 d, + margin
    bottom = top + 0.4 + 0.2 * max(len(line) for r in rows for line in _label(r).splitlines())
    ylim = (-bottom, top + 1.2 + arcs)
    if ax is None:   # about 0.3 inch per data unit vertically
        _, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(rows) + 1.5), 0.3 * (ylim[1] - ylim[0]) + 0.6))
    for i, (row, x) in enumerate(zip(rows, xs)):
        if i:
            ax.plot([x - gap, x], [0, 0], color="0.4", lw=0.8, zorder=0)
        _box(ax, x, row.width, row.height, COLOURS[row.kind])
        ax.text(x + row.width / 2, -row.height / 2 - 0.25, _label(row), rotation=90, ha="center", va="top",
                fontsize=7)
    for start, end in skips:
        ax.add_patch(FancyArrowPatch(start, end, connectionstyle="arc3,rad=-0.35", arrowstyle="-|>",
                                     mutation_scale=8, color=COLOURS["up"], lw=1.0))
    kinds = dict.fromkeys(r.kind for r in rows)
    ax.legend(handles=[Patch(facecolor=COLOURS[k], edgecolor="k", label=k) for k in kinds], loc="upper left",
              fontsize=7, ncol=len(kinds), frameon=False, bbox_to_anchor=(0, 0.0))
    ax.set_xlim(-0.3, xs[-1] + rows[-1].width + 0.4)
    ax.set_ylim(*ylim)
    ax.set_axis_off()
    ax.set_title(f"{name} ({config} configuration): {count_parameters(model):,} parameters", fontsize=10)
    return ax


__all__ = ["COLOURS", "layer_summary", "plot_architecture"]
