from fedpriv.training.cache import ModelCache, load_weights
from fedpriv.training.classifier import ClassifierModule, TrainingResult, predict, train_classifier

__all__ = ["ClassifierModule", "ModelCache", "TrainingResult", "load_weights", "predict", "train_classifier"]
