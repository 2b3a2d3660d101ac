import torch

from fedpriv.metrics import match_reconstructions


def test_shuffled_batch_is_paired_back():
    torch.manual_seed(0)
    originals = torch.rand(6, 3, 8, 8)
    perm = torch.randperm(6)
    noisy = (originals[perm] + 0.02 * torch.randn(6, 3, 8, 8)).clamp(0, 1)
    order = match_reconstructions(noisy, originals)
    assert torch.equal(perm[order], torch.arange(6))


def test_more_reconstructions_than_targets():
    torch.manual_seed(1)
    targets = torch.rand(2, 1, 8, 8)
    pool = torch.cat([torch.rand(5, 1, 8, 8), targets[1:], torch.rand(3, 1, 8, 8), targets[:1]])
    assert match_reconstructions(pool, targets).tolist() == [9, 5]
