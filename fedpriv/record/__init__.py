from fedpriv.record.grid import save_grid, save_reconstruction_grid, save_samples
from fedpriv.record.loggers import NoLogger, WandbLogger
from fedpriv.record.results import COLUMNS, format_rows, read_results, write_results

__all__ = ["COLUMNS", "NoLogger", "WandbLogger", "format_rows", "read_results", "save_grid", "save_reconstruction_grid", "save_samples", "write_results"]
