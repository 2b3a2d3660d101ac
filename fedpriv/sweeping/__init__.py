from fedpriv.sweeping.folders import finished_results, trial_dirname, trial_folders
from fedpriv.sweeping.identity import trial_identity
from fedpriv.sweeping.plan import PlanSweep, read_manifest, sweep_overrides
from fedpriv.sweeping.progress import Progress, running_marker, sweep_progress

__all__ = ["PlanSweep", "Progress", "finished_results", "read_manifest", "running_marker", "sweep_overrides",
           "sweep_progress", "trial_dirname", "trial_folders", "trial_identity"]
