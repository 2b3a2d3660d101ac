from fedpriv.fl.base import Population, Protocol, SharedUpdate, batch_gradients, functional_loss, per_sample_gradients
from fedpriv.fl.fedsgd import FedSGD

__all__ = ["FedSGD", "Population", "Protocol", "SharedUpdate", "batch_gradients", "functional_loss", "per_sample_gradients"]
