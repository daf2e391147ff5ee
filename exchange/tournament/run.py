"""Playing a tournament's days on Dask: a local cluster of worker processes, or any
cluster a scheduler address reaches (dask-jobqueue on SLURM or PBS, Kubernetes, ...).

Each day is one task, keyed by the day, submitted with `retries`: a day whose worker
died (killed, out of memory, its node gone) is played again elsewhere, and since a day
is a pure function of its value, the retry gives the same result. TournamentResults are gathered
as they finish and then sorted by day key, so the order of completion never shows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tqdm import tqdm

from exchange.tournament.days import Day, DayResult, play_day

if TYPE_CHECKING:
    from distributed import Client

RETRIES = 3
"""Times a day is played again after its worker is lost or its task fails."""
log = logging.getLogger("exchange.tournament")

Finished = Callable[[DayResult], object]
"""Told of each day as it finishes (a progress bar, a log line, a test's hook)."""


def run_days(
    days: Sequence[Day], client: Client | None = None, on_done: Finished | None = None
) -> list[DayResult]:
    """Every day's result, sorted by key: on the client's cluster, or here, one after
    another, when there is no client."""
    done: dict[str, DayResult] = {}
    for result in _played(days, client):
        done[result.key] = result
        _log_losses(result)
        if on_done is not None:
            on_done(result)
    return [done[key] for key in sorted(done)]


def _played(days: Sequence[Day], client: Client | None) -> Iterator[DayResult]:
    if client is None:
        yield from map(play_day, days)
        return
    from distributed import as_completed

    futures = client.map(play_day, list(days), key=[_task_key(d) for d in days],
                         retries=RETRIES, pure=False)  # fmt: skip
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        yield future.result()
        future.release()


def _task_key(day: Day) -> str:
    return "tournament-day-" + day.key.replace("/", "-")


def _log_losses(result: DayResult) -> None:
    for team in result.teams:
        if team.lost is not None:
            log.warning("%s: %s lost the day: %s", result.key, team.team, team.lost)


def play(
    days: Sequence[Day], workers: int | None, scheduler: str | None, quiet: bool
) -> list[DayResult]:
    """The command line's way: a progress bar over the days, on the cluster asked for."""
    with (
        tqdm(total=len(days), unit="day", disable=True if quiet else None) as bar,
        connect(workers, scheduler) as client,
    ):
        bar.set_description(_where(client))
        return run_days(days, client, lambda _: bar.update(1))


def _where(client: Client | None) -> str:
    if client is None:
        return "in process"
    workers = len(client.scheduler_info().get("workers", {}))
    return f"{workers} workers"


@contextmanager
def connect(workers: int | None, scheduler: str | None) -> Iterator[Client | None]:
    """A client of the scheduler at `scheduler` (or $DASK_SCHEDULER_ADDRESS); else of a
    new local cluster of `workers` processes (default: one per core). Zero workers: no
    cluster, the days are played in this process."""
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address is None and workers == 0:
        yield None
        return
    from distributed import Client, LocalCluster

    if address is not None:
        with Client(address) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client
