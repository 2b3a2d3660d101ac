from fedpriv.config.constraints import Injected, OneOf, Range
from fedpriv.config.validate import ConfigError, config_problems, validate

__all__ = ["ConfigError", "Injected", "OneOf", "Range", "config_problems", "validate"]
