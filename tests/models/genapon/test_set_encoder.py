import torch

from socdem.models.genapon.batches import length_mask
from socdem.models.genapon.set_encoder import ItemSetEncoder, masked_attention_pool, masked_sum_mean


def test_permutation_invariance():
    torch.manual_seed(0)
    net = ItemSetEncoder(6, 8).eval()
    x = torch.randn(4, 5, 6)
    mask = length_mask(torch.tensor([5, 5, 5, 5]), 5)
    perm = torch.randperm(5)
    assert torch.allclose(net(x, mask), net(x[:, perm], mask), atol=1e-6)
    assert not torch.allclose(net(x, mask), net(x * 1.5, mask), atol=1e-4)


def test_padded_positions_change_nothing():
    torch.manual_seed(1)
    net = ItemSetEncoder(6, 8).eval()
    x = torch.randn(3, 4, 6)
    lengths = torch.tensor([4, 2, 0])
    padded = torch.cat([x, 100 * torch.randn(3, 6, 6)], dim=1)  # wider, with garbage
    garbage = padded.clone()
    garbage[1, 2:] = 50.0  # also beyond a short history's length
    out = net(x, length_mask(lengths, 4))
    assert torch.allclose(out, net(garbage, length_mask(lengths, 10)), atol=1e-5)


def test_pooling_values_and_empty_sets():
    x = torch.tensor([[[1.0], [3.0], [99.0]], [[5.0], [7.0], [9.0]], [[2.0], [2.0], [2.0]]])
    mask = length_mask(torch.tensor([2, 3, 0]), 3)
    total, mean = masked_sum_mean(x, mask)
    assert total.squeeze(1).tolist() == [4.0, 21.0, 0.0]
    assert mean.squeeze(1).tolist() == [2.0, 7.0, 0.0]
    pooled = masked_attention_pool(x, torch.zeros(3, 3, 1), mask)  # equal scores: the mean
    assert torch.allclose(pooled.squeeze(), torch.tensor([2.0, 7.0, 0.0]))


def test_distinct_pooling_counts_each_author_once():
    net = ItemSetEncoder(2, 4)
    h = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])  # phi outputs: one author watched twice, one once
    mask = torch.ones(1, 3, dtype=torch.bool)
    distinct = torch.tensor([[False, True, True]])
    pooled = net.pool(h, mask, distinct)
    expected = torch.tensor([[2.0, 1.0, 2 / 3, 1 / 3, 1.0, 1.0, 0.5, 0.5]])  # sum, mean over events; then distinct
    assert torch.allclose(pooled, expected)
