from fedpriv.record.grid import save_grid, save_reconstruction_grid, save_samples
from fedpriv.record.loggers import NoLogger, WandbLogger
from fedpriv.record.outcomes import IMAGES_FILE, read_outcomes, write_outcomes
from fedpriv.record.results import COLUMNS, format_rows, read_results, write_results

__all__ = ["COLUMNS", "IMAGES_FILE", "NoLogger", "WandbLogger", "format_rows", "read_outcomes", "read_results",
           "save_grid", "save_reconstruction_grid", "save_samples", "write_outcomes", "write_results"]
