from fedpriv.fl.base import Population, Protocol, SharedUpdate, batch_gradients, functional_loss, per_sample_gradients
from fedpriv.fl.fedsgd import FedSGD
from fedpriv.fl.rounds import FederatedRun, round_victim, train_fedavg

__all__ = [
    "FedSGD", "FederatedRun", "Population", "Protocol", "SharedUpdate", "batch_gradients", "functional_loss",
    "per_sample_gradients", "round_victim", "train_fedavg",
]
