"""Data-parallel training across processes and machines with PyTorch's own engine (DDP).

``torchrun --nproc_per_node N -m thaiocr train ...`` starts N copies of the trainer; each reads its
rank from the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``). A multi-instance SageMaker job has no torchrun; ``sagemaker_environment`` derives
the same variables from the host list SageMaker provides. Without those variables training runs as
one process, exactly as before.

Every rank draws the same global batches (same seed) of ``batch_size_per_card x world_size`` lines
and trains on its own slice, so the gradients DDP averages are those of one global batch; rank 0
alone evaluates, logs and writes checkpoints.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from thaiocr.errors import ThaiOCRError

DEFAULT_PORT = "29500"


@dataclass(frozen=True)
class DistContext:
    """This process's place in the run; ``world_size == 1`` means plain single-process training."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (e.g. an early stop decided after rank 0's evaluation)."""
        if not self.enabled:
            return flag
        box = [flag]
        dist.broadcast_object_list(box, src=0)
        return bool(box[0])

    def mean(self, value: torch.Tensor) -> float:
        """The mean of a scalar over all ranks (for logging the loss of the whole global batch)."""
        if not self.enabled:
            return float(value)
        total = value.detach().clone().reshape(1)
        dist.all_reduce(total)
        return float(total) / self.world_size

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ThaiOCRError(f"environment variable {name}={value!r} is not a whole number") from None


def context_from_env(env: Mapping[str, str] | None = None) -> DistContext:
    """The rank and world size torchrun (or ``sagemaker_environment``) put in the environment."""
    env = os.environ if env is None else env
    world = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ThaiOCRError(f"RANK={rank} does not fit WORLD_SIZE={world}")
    local_world = _env_int(env, "LOCAL_WORLD_SIZE", world)
    return DistContext(rank, world, _env_int(env, "LOCAL_RANK", 0), max(1, local_world))


def init_distributed(use_cuda: bool, env: Mapping[str, str] | None = None) -> DistContext:
    """Join the process group when the environment describes one: gloo on CPUs, nccl on GPUs."""
    context = context_from_env(env)
    if context.enabled and not dist.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        if use_cuda:
            torch.cuda.set_device(context.local_rank)
        dist.init_process_group(backend=backend, rank=context.rank, world_size=context.world_size)
    return context


def sagemaker_environment(hosts: Sequence[str], current_host: str, procs_per_host: int = 1,
                          port: str = DEFAULT_PORT) -> dict[str, str]:
    """torchrun's variables for one process per instance of a SageMaker job (``SM_HOSTS``, ``SM_CURRENT_HOST``).

    The first host in SageMaker's sorted list is the rendezvous master; ranks follow the list order.
    """
    if current_host not in hosts:
        raise ThaiOCRError(f"SM_CURRENT_HOST {current_host!r} is not in SM_HOSTS {list(hosts)}")
    ordered = sorted(hosts)
    return {
        "MASTER_ADDR": ordered[0],
        "MASTER_PORT": port,
        "WORLD_SIZE": str(len(ordered) * procs_per_host),
        "RANK": str(ordered.index(current_host) * procs_per_host),
        "LOCAL_RANK": "0",
        "LOCAL_WORLD_SIZE": str(procs_per_host),
        "NODE_RANK": str(ordered.index(current_host)),
    }


def sagemaker_hosts(env: Mapping[str, str]) -> tuple[list[str], str] | None:
    """SageMaker's host list and this host's name, when the job runs on more than one instance."""
    if "SM_HOSTS" not in env or "SM_CURRENT_HOST" not in env:
        return None
    try:
        hosts = json.loads(env["SM_HOSTS"])
    except json.JSONDecodeError as exc:
        raise ThaiOCRError(f"SM_HOSTS is not a JSON list of host names: {exc}") from None
    if not isinstance(hosts, list) or len(hosts) < 2:
        return None
    return [str(h) for h in hosts], env["SM_CURRENT_HOST"]


class RankSlices(Sampler[list[int]]):
    """This rank's slice of every global batch drawn by ``global_batches``.

    Global batches hold ``batch_size x world_size`` indices (full ones only: the loader drops a
    short last batch, so every rank takes the same number of steps); rank r trains on
    ``[r * batch_size, (r + 1) * batch_size)``.
    """

    def __init__(self, global_batches: Sampler[list[int]], context: DistContext) -> None:
        self.global_batches = global_batches
        self.context = context

    def __len__(self) -> int:
        return len(self.global_batches)

    def __iter__(self) -> Iterator[list[int]]:
        world, rank = self.context.world_size, self.context.rank
        for batch in self.global_batches:
            share = len(batch) // world
            yield batch[rank * share : (rank + 1) * share]
