"""Several training runs (models x seeds), in this process or in worker processes."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from liquidtime._validation import positive_int
from liquidtime.data import load_task
from liquidtime.experiments.records import RESULTS_FILE, read_records
from liquidtime.experiments.runner import RunConfig, train_run


def finished_records(output_dir: os.PathLike | str) -> dict[str, dict[str, Any]]:
    """The records already in ``<output_dir>/results.jsonl``, by ``run_key`` (latest wins)."""
    path = Path(output_dir) / RESULTS_FILE
    if not path.is_file():
        return {}
    return {record["run_key"]: record for record in read_records(path) if "run_key" in record}


def _run_in_worker(
    config: RunConfig, options: dict[str, Any]
) -> dict[str, Any]:
    """Worker-process entry: one run, its progress lines prefixed with the run's name."""
    prefix = f"[{config.model} seed {config.seed}]"
    return train_run(config, log=lambda line: print(f"{prefix} {line.strip()}", flush=True), **options)


def run_configs(
    configs: Sequence[RunConfig],
    *,
    data_dir: os.PathLike | str | None = None,
    output_dir: os.PathLike | str = "runs",
    resume: bool = False,
    progress: str = "auto",
    jobs: int = 1,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Runs every configuration and returns their records, in the order of ``configs``.

    Args:
        configs: The runs (of one task and protocol, when ``jobs == 1`` the task is
            loaded once).
        data_dir: The data root or task folder.
        output_dir: Where ``results.jsonl`` and the checkpoints go.
        resume: Reuse the records of runs already finished in ``output_dir``
            (same settings, seed and epochs), and continue unfinished ones from
            their checkpoints.
        progress: Progress mode of each run (with ``jobs > 1``: ``"bar"`` and
            ``"auto"`` become one line per epoch, prefixed with the run).
        jobs: Number of worker processes (1: run here, one after the other).
        log: Where this function's own lines go.

    Returns:
        One record per configuration.
    """
    positive_int("jobs", jobs)
    done = finished_records(output_dir) if resume else {}
    results: dict[int, dict[str, Any]] = {}
    pending = []
    for index, config in enumerate(configs):
        if config.run_key in done:
            log(f"{config.run_name}: already finished in {output_dir}, reusing its record")
            results[index] = done[config.run_key]
        else:
            pending.append(index)
    options: dict[str, Any] = {"data_dir": data_dir, "output_dir": output_dir, "resume": resume}
    if jobs == 1 or len(pending) <= 1:
        loaded = {}
        for index in pending:
            config = configs[index]
            key = (config.task, config.protocol)
            if key not in loaded:
                loaded[key] = load_task(config.task, data_dir=data_dir, protocol=config.protocol)
            results[index] = train_run(config, task=loaded[key], progress=progress, **options)
        return [results[index] for index in range(len(configs))]
    options["progress"] = "none" if progress == "none" else "epoch"
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(_run_in_worker, configs[index], options): index for index in pending}
        try:
            for future in concurrent.futures.as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [results[index] for index in range(len(configs))]
