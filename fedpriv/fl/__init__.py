from fedpriv.fl.base import Population, Protocol, SharedUpdate, batch_gradients, functional_loss, per_sample_gradients
from fedpriv.fl.fedavg import FedAvg
from fedpriv.fl.fedsgd import FedSGD
from fedpriv.fl.rounds import FederatedRun, round_victim, train_fedavg
from fedpriv.fl.secagg import SecureAggregation
from fedpriv.fl.split import SplitLearning

__all__ = [
    "FedAvg", "FedSGD", "FederatedRun", "Population", "Protocol", "SecureAggregation", "SharedUpdate", "SplitLearning",
    "batch_gradients", "functional_loss", "per_sample_gradients", "round_victim", "train_fedavg",
]
