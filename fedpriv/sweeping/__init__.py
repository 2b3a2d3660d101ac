from fedpriv.sweeping.identity import trial_dirname, trial_identity
from fedpriv.sweeping.plan import PlanSweep, read_manifest, sweep_overrides
from fedpriv.sweeping.progress import Progress, running_marker, sweep_progress

__all__ = ["PlanSweep", "Progress", "read_manifest", "running_marker", "sweep_overrides", "sweep_progress",
           "trial_dirname", "trial_identity"]
