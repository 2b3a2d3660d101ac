"""fedpriv's Hydra launchers (Hydra only instantiates launchers from the ``hydra_plugins`` namespace).

``hydra/launcher=submitit_local`` selects :class:`~hydra_plugins.fedpriv_launchers.local_parallel.ParallelLocalLauncher`,
whose structured config replaces the submitit plugin's local entry. Hydra's plugin scan re-executes every plugin
module, in an order that depends on ``sys.path``, so the replacement is (re)done from a search-path plugin hook,
which Hydra calls after the scan and before it composes any config.
"""

from dataclasses import dataclass
from typing import Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf


@dataclass
class ParallelLocalQueueConf(LocalQueueConf):
    """Trials as parallel processes on this machine.

    max_parallel: trials at once (null: one per GPU, or cores / cpus_per_task on CPU).
    cpus_per_task: threads per trial (null: the cores split evenly on GPUs; one per trial on CPU).
    timeout_min: a trial running longer is stopped. GPUs are assigned by the launcher, one per trial.
    """

    _target_: str = "hydra_plugins.fedpriv_launchers.local_parallel.ParallelLocalLauncher"
    max_parallel: Optional[int] = None
    timeout_min: int = 1440


def register_local_launcher() -> None:
    ConfigStore.instance().store(group="hydra/launcher", name="submitit_local", node=ParallelLocalQueueConf,
                                 provider="fedpriv")


class FedprivLaunchers(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        register_local_launcher()


register_local_launcher()
