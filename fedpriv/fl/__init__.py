from fedpriv.fl.base import Population, Protocol, SharedUpdate, batch_gradients, functional_loss, per_sample_gradients
from fedpriv.fl.fedavg import FedAvg
from fedpriv.fl.fedsgd import FedSGD
from fedpriv.fl.rounds import FederatedRun, round_victim, train_fedavg
from fedpriv.fl.secagg import SecureAggregation

__all__ = [
    "FedAvg", "FedSGD", "FederatedRun", "Population", "Protocol", "SecureAggregation", "SharedUpdate",
    "batch_gradients", "functional_loss", "per_sample_gradients", "round_victim", "train_fedavg",
]
