from fedpriv.fl.base import Protocol, SharedUpdate, batch_gradients, per_sample_gradients
from fedpriv.fl.fedsgd import FedSGD

__all__ = ["FedSGD", "Protocol", "SharedUpdate", "batch_gradients", "per_sample_gradients"]
