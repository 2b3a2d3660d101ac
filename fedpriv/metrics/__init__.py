from fedpriv.metrics.image import image_scores, mse, psnr, ssim
from fedpriv.metrics.perceptual import LpipsScorer

__all__ = ["LpipsScorer", "image_scores", "mse", "psnr", "ssim"]
