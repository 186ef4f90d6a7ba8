"""Training throughput of a recipe: one process using every core against DDP with one process per core.

Small CRNNs use a CPU's cores poorly from one process (an LSTM step is a chain of small matrix
products), so data-parallel processes with one thread each may train faster than one process
with N threads. This prints lines/s for both on random batches of the recipe's input shape.

    .venv/bin/python bench/ddp_speed.py [--config configs/rec/numbers.yml] [--width 200] [--steps 60]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from thaiocr.charset import load_charset
from thaiocr.config import load_config
from thaiocr.model import build_model

WARMUP_STEPS = 5


def run(rank: int, world: int, args: argparse.Namespace, results: dict) -> None:
    """Train ``args.steps`` steps on random batches; rank 0 records lines/s."""
    torch.set_num_threads(args.threads_per_process)
    if world > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(args.port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    config = load_config(args.config)
    charset = load_charset(config.Global.character_dict_path, config.Global.use_space_char)
    torch.manual_seed(0)
    model = build_model(config.Architecture, charset.num_classes).to(memory_format=torch.channels_last)
    step_model = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = args.batch // world
    images = torch.randn(batch, 3, config.preprocess.height, args.width).contiguous(memory_format=torch.channels_last)
    for step in range(WARMUP_STEPS + args.steps):
        if step == WARMUP_STEPS:
            started = time.perf_counter()
        loss = step_model(images).float().logsumexp(dim=2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    if rank == 0:
        results[world] = args.steps * args.batch / seconds
    if world > 1:
        dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/rec/numbers.yml"))
    parser.add_argument("--batch", type=int, default=32, help="global batch (split between the processes)")
    parser.add_argument("--width", type=int, default=200, help="image width of the random batches")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--port", type=int, default=29533)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with mp.Manager() as manager:
        results = manager.dict()
        args.threads_per_process = cores
        run(0, 1, args, results)
        args.threads_per_process = 1
        mp.spawn(run, args=(cores, args, results), nprocs=cores, join=True)
        single, ddp = results[1], results[cores]
    print(f"one process x {cores} threads: {single:7.1f} lines/s")
    print(f"DDP {cores} processes x 1 thread: {ddp:7.1f} lines/s ({ddp / single:.2f}x)")


if __name__ == "__main__":
    main()
