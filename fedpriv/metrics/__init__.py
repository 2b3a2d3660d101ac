from fedpriv.metrics.image import image_scores, mse, psnr, ssim
from fedpriv.metrics.matching import match_reconstructions
from fedpriv.metrics.perceptual import LpipsScorer

__all__ = ["LpipsScorer", "image_scores", "match_reconstructions", "mse", "psnr", "ssim"]
