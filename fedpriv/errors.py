"""Errors fedpriv raises for problems a user can fix; their messages name the config key to change."""


class FedprivError(RuntimeError):
    """Base class of user-facing errors."""


class DatasetNotFound(FedprivError):
    """The dataset is not where ``dataset.root`` points and could not be downloaded."""


class CheckpointError(FedprivError):
    """A weights file is missing, unreadable or does not fit the model."""
