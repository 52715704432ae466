"""``eels-id train``: train an architecture on simulated spectra (:func:`eels_helpers.training.loop.train`).

Several processes (DistributedDataParallel; gloo on CPU, NCCL on CUDA)::

    torchrun --nproc_per_node 2 -m eels_helpers.cli train --model vit --stream --out runs/vit_ddp
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eels_helpers import profiles as _profiles
from eels_helpers.cli.arguments import non_negative_int
from eels_helpers.device import DEVICES, PRECISIONS
from eels_helpers.simulation.named_configs import NAMED_CONFIGS, named_config_help
from eels_helpers.training.config import TrainConfig


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=("mlp", "cnn", "unet", "resnet", "vit", "cct"),
                        help="architecture")
    parser.add_argument("--profile", default="cpu", choices=sorted(_profiles.PROFILES),
                        help="schedule and model configuration (smoke, cpu = reduced models, paper = paper sizes)")
    parser.add_argument("--model-config", choices=["paper", "cpu"], help="override the profile's model configuration")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model constructor option, e.g. --option width=0.5 (repeatable; JSON values)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path,
                        help="dataset of 'eels-id simulate' (file, shards or glob): its 'train' split")
    source.add_argument("--stream", action="store_true", help="train on the streaming simulator")
    source.add_argument("--synthetic", type=int, metavar="N",
                        help="toy Gaussian-peak dataset of N spectra (smoke tests)")
    parser.add_argument("--simulation", choices=sorted(NAMED_CONFIGS), metavar="NAME",
                        help=f"simulator configuration of --stream: {named_config_help()}")
    parser.add_argument("--paper-fraction", type=float, dest="paper_fraction", metavar="F",
                        help="share of the --stream batches simulated with the paper's configuration instead of "
                             "--simulation (a mixture; 0 = off) [0]")
    parser.add_argument("--query-weights", type=Path, metavar="FILE",
                        help="JSON file {element: weight}: relative weights of the streaming query elements "
                             "(unlisted: 1), e.g. written by `python scripts/hard_example_weights.py` [uniform]")
    parser.add_argument("--init", dest="init_from", metavar="MODEL",
                        help="start from the weights of this model file or shipped model name (fine-tuning)")
    parser.add_argument("--val", type=Path,
                        help="dataset whose 'validation' split is evaluated after each pseudo-epoch")
    parser.add_argument("--out", type=Path, required=True, help="output directory (checkpoint, model.pt, log)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if present")
    parser.add_argument("--steps-per-epoch", type=int, metavar="N",
                        help="optimiser steps per pseudo-epoch of --stream (a validation and a checkpoint after "
                             "each) [the --profile's]")
    parser.add_argument("--max-epochs", type=int, metavar="N",
                        help="stop after N (pseudo-)epochs, unless the plateau rule stops earlier [the --profile's]")
    parser.add_argument("--batch-size", type=int, metavar="N", help="spectra per optimiser step [the --profile's]")
    parser.add_argument("--lr", type=float, dest="learning_rate", metavar="LR",
                        help="initial learning rate of Adam, halved by the plateau rule [the --profile's]")
    parser.add_argument("--seed", type=non_negative_int,
                        help="random seed: initial weights, data order and the streamed spectra [the --profile's]")
    parser.add_argument("--device", choices=DEVICES, help="where to train [the --profile's: auto, cuda where "
                                                          "available]")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="arithmetic of the forward pass (bf16: autocast, for GPUs of compute capability "
                             ">= 8.0; on a CPU slow without native bfloat16 and refused where it computes "
                             "wrong, eels_helpers.device) [the --profile's]")
    parser.add_argument("--threads", type=int, dest="num_threads", help="CPU threads per process")
    parser.add_argument("--workers", type=int, dest="num_workers", help="DataLoader worker processes")
    from eels_helpers.cli import add_quiet_option

    add_quiet_option(parser, no_progress=True)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    from eels_helpers.cli import show_progress

    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--option expects KEY=VALUE, got {item!r}")
        options[key.strip()] = _parse_value(value)
    overrides = {k: getattr(args, k) for k in ("steps_per_epoch", "max_epochs", "batch_size", "learning_rate", "seed",
                                               "device", "precision", "num_threads", "num_workers",
                                               "simulation", "paper_fraction", "init_from")
                 if getattr(args, k) is not None}
    if args.model_config:
        overrides["model_config"] = args.model_config
    if getattr(args, "query_weights", None) is not None:
        overrides["query_weights"] = read_query_weights(args.query_weights)
    if args.init_from:     # fine-tuning: one network of the same architecture as the model file
        from eels_helpers.models.model_files import read_info

        info = read_info(args.init_from)      # its description, not its weights
        if info["architecture"] != args.model:
            held = "an ensemble" if info["architecture"] == "ensemble" else f"a {info['architecture']}"
            raise ValueError(f"--init {args.init_from} holds {held}, not a {args.model}: "
                             f"fine-tuning starts from one network of the same architecture"
                             + (f" (--model {info['architecture']})" if info["architecture"] != "ensemble" else ""))
        options = options or info["options"]
    config = TrainConfig.from_profile(args.profile, model=args.model, model_options=options,
                                      progress=show_progress(args), **overrides)
    if args.option:        # the values too, before anything is written (an unknown key: its list)
        from eels_helpers.models import create_model

        try:
            create_model(config.model, config.model_config, **config.model_options)
        except (ValueError, TypeError) as err:
            raise ValueError(f"--option: {err}") from None
    return config


def read_query_weights(path: Path) -> dict:
    """The {element: weight} mapping of a --query-weights JSON file (ValueError naming the file)."""
    try:
        weights = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"--query-weights {path}: cannot read a JSON object {{element: weight}} ({err})") from None
    if not isinstance(weights, dict) or not all(isinstance(v, (int, float)) for v in weights.values()):
        raise ValueError(f"--query-weights {path}: expected a JSON object {{element: number}}")
    return {str(k): float(v) for k, v in weights.items()}


def open_training_data(args: argparse.Namespace, config: TrainConfig):
    from eels_helpers.datasets.hdf5_reader import open_training_split
    from eels_helpers.training.data import SyntheticPeaks, streaming_dataset

    if args.synthetic is not None:
        return SyntheticPeaks(args.synthetic, seed=config.seed)
    if args.stream:
        return streaming_dataset(config)
    return open_training_split(args.data, "train")


def main(args: argparse.Namespace) -> int:
    from eels_helpers.cli import report_error
    from eels_helpers.datasets.hdf5_reader import open_training_split
    from eels_helpers.models.model_files import ModelNotFoundError
    from eels_helpers.training.data import dist_env
    from eels_helpers.training.loop import RunMismatchError, train
    from eels_helpers.training.runs import MODEL_FILE
    from eels_helpers.training.schedule import stop_reason

    try:
        config = config_from_args(args)
    except (ValueError, TypeError, ModelNotFoundError) as err:   # a bad --option, value or --init: a usage error
        report_error("eels-id train", err, args)
        return 2
    try:
        history = train(config, open_training_data(args, config), args.out,
                        val_data=open_training_split(args.val, "validation") if args.val else None,
                        resume=args.resume)
    except (FileExistsError, RunMismatchError) as err:   # --out holds a run (no --resume), or another run's
        report_error("eels-id train", err, args)
        return 2
    if dist_env()[0] == 0 and history:
        last = history[-1]
        reason = stop_reason(args.out)
        print(f"{config.model}: {last['epoch']} pseudo-epochs, loss {last['loss']:.4f}, F1 {last['f1']:.3f}; "
              f"wrote {Path(args.out) / MODEL_FILE}; stopped: {reason or 'unknown'}")
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    return 0
