"""Running the harness's jobs as Ray tasks, on this machine or on a cluster.

Ray is an optional dependency (the ``ray`` extra): it is imported only when
the ``ray`` backend is chosen, so the default local backend needs none of it.
"""

from __future__ import annotations

INSTALL_HINT = "pip install 'cerebellar[ray]'"


def import_ray():
    """Return the ``ray`` module, or raise ImportError saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(f"the ray backend needs Ray: {INSTALL_HINT}") from error
    return ray


class RayPool:
    """A stand-in for a process pool whose jobs are Ray tasks.

    Used as a context manager: on entry it connects to Ray (``ray.init``)
    unless the caller already has, and on exit it disconnects only if it was
    the one that connected.

    Parameters
    ----------
    address : str, optional
        The cluster to connect to, as ``ray.init(address=...)`` takes it
        (``"auto"``, ``"HOST:6379"`` or ``"ray://HOST:10001"``). None: the
        ``RAY_ADDRESS`` environment variable if set, else a Ray instance
        started on this machine for the run.
    """

    def __init__(self, address: str | None = None):
        self.address = address
        self._connected_here = False
        self._ray = None

    def __enter__(self) -> RayPool:
        ray = self._ray = import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
            self._connected_here = True
        return self

    def __exit__(self, *exc) -> None:
        if self._connected_here:
            self._ray.shutdown()
            self._connected_here = False

    def map(self, function, jobs, on_done=None) -> list:
        """Run ``function(job)`` for every job as a Ray task; return the results in job order.

        ``on_done(job, result)``, when given, is called as each task finishes
        (in the order they finish).
        """
        ray = self._ray
        remote = ray.remote(function)
        jobs = list(jobs)
        refs = [remote.remote(job) for job in jobs]
        if on_done is not None:
            index = {ref: i for i, ref in enumerate(refs)}
            pending = list(refs)
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    on_done(jobs[index[ref]], ray.get(ref))
        return ray.get(refs)
