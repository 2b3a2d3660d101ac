"""``hydra/launcher=submitit_local``: trials as parallel submitit processes on one machine.

submitit's local executor starts every job at once and shows each one all GPUs. For a grid of a hundred trials
on one workstation that means a hundred processes fighting over the same cores and GPUs. This launcher keeps at
most ``max_parallel`` jobs running, gives each job its own GPU when the machine has several (via
``CUDA_VISIBLE_DEVICES``), and on CPU gives each job ``cpus_per_task`` threads so parallel trials do not
oversubscribe the cores. A job that fails does not stop the others; the sweep reports the failure at the end.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Optional, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5


def visible_gpus() -> list[int]:
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [int(g) for g in listed.split(",") if g.strip().isdigit()]
    try:
        import torch

        return list(range(torch.cuda.device_count()))
    except Exception:
        return []


def plan_slots(*, max_parallel: Optional[int], cpus_per_task: Optional[int], gpus: Sequence[int],
               cores: int) -> tuple[int, int]:
    """(jobs at once, threads per job): one job per GPU, else ``cores // cpus_per_task`` jobs (one thread each
    when unset)."""
    if gpus:
        parallel = max_parallel or len(gpus)
        threads = cpus_per_task or max(1, cores // parallel)
    else:
        threads = cpus_per_task or (max(1, cores // max_parallel) if max_parallel else 1)
        parallel = max_parallel or max(1, cores // threads)
    return parallel, threads


class ParallelLocalLauncher(LocalLauncher):
    def __init__(self, max_parallel: Optional[int] = None, **params: Any) -> None:
        super().__init__(**params)
        self.max_parallel = max_parallel

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        gpus = visible_gpus()
        parallel, threads = plan_slots(max_parallel=self.max_parallel, cpus_per_task=self.params.get("cpus_per_task"),
                                       gpus=gpus, cores=os.cpu_count() or 1)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Parallel local sweep in %s: %d jobs, %d at once, %s, %d thread(s) each", sweep_dir,
                 len(job_overrides), parallel, f"GPUs {gpus}" if gpus else "CPU", threads)
        finished = self._finished_trials(sweep_dir)
        free_gpus, running, jobs, skipped = list(gpus), {}, {}, {}
        try:
            for offset, overrides in enumerate(job_overrides):
                idx = initial_job_idx + offset
                if tuple(overrides) in finished:
                    # Known from the sweep's plan to be complete: no process is started just to find that out.
                    log.info("\t#%d : %s (finished in an earlier launch: skipped)", idx,
                             " ".join(filter_overrides(overrides)))
                    skipped[idx] = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
                    continue
                while len(running) >= parallel:
                    free_gpus += self._reap(running)
                    time.sleep(POLL_SECONDS) if len(running) >= parallel else None
                gpu = free_gpus.pop(0) if gpus else None
                executor = submitit.LocalExecutor(folder=self.params["submitit_folder"])
                executor.update_parameters(
                    timeout_min=self.params.get("timeout_min", 60),
                    gpus_per_node=1 if gpu is not None else 0,
                    visible_gpus=[gpu] if gpu is not None else [],
                    tasks_per_node=1,
                    setup=[f"export FEDPRIV_THREADS={threads}", f"export OMP_NUM_THREADS={threads}"],
                    stderr_to_stdout=self.params.get("stderr_to_stdout", False),
                )
                log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
                job = executor.submit(self, list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}",
                                      Singleton.get_state())
                running[job] = gpu
                jobs[idx] = job
            while running:
                self._reap(running)
                time.sleep(POLL_SECONDS) if running else None
        except BaseException:
            # Ctrl-C or SIGTERM (a SystemExit here): stop the running trials too, so that none finishes after the
            # sweep has said how far it got.
            self._cancel(running)
            raise
        return [skipped[idx] if idx in skipped else self._result(jobs[idx], list(job_overrides[idx - initial_job_idx]))
                for idx in sorted({*jobs, *skipped})]

    @staticmethod
    def _cancel(running: dict, wait_seconds: float = 30) -> None:
        for job in running:
            job.cancel(check=False)  # SIGINT to the job's process: it stops without writing results
        deadline = time.monotonic() + wait_seconds
        while any(not job.done() for job in running) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS / 5)

    def _finished_trials(self, sweep_dir: Path) -> set[tuple[str, ...]]:
        """Override lists of the planned trials (``trials.json``) whose results file already exists."""
        from fedpriv.sweeping.folders import finished_ids
        from fedpriv.sweeping.plan import read_manifest

        results = str(self.config.get("record", {}).get("results_file", "results.csv"))
        done = finished_ids(sweep_dir, results)
        return {tuple(t["overrides"]) for t in read_manifest(sweep_dir) or [] if t["id"] in done}

    @staticmethod
    def _reap(running: dict) -> list[int]:
        """Forget finished jobs; return the GPUs they free."""
        freed = []
        for job in [j for j in running if j.done()]:
            gpu = running.pop(job)
            if gpu is not None:
                freed.append(gpu)
        return freed

    @staticmethod
    def _result(job, overrides: list[str]) -> JobReturn:
        try:
            return job.results()[0]
        except Exception as err:  # the job's own log (in .submitit/) holds the traceback
            log.error("job %s (%s) failed: %s", job.job_id, " ".join(overrides), str(err).splitlines()[-1:])
            failed = JobReturn(overrides=overrides, status=JobStatus.FAILED)
            failed._return_value = err
            return failed
