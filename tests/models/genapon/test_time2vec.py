import math

import torch

from socdem.models.genapon.time2vec import Time2Vec


def test_matches_the_papers_formula_on_a_hand_computed_case():
    t2v = Time2Vec(n_features=2, dim=3)
    with torch.no_grad():
        t2v.omega.copy_(torch.tensor([[2.0, math.pi, 0.5], [-1.0, 1.0, 3.0]]))
        t2v.phi.copy_(torch.tensor([[1.0, math.pi / 2, 0.0], [0.5, -1.0, 0.25]]))
    out = t2v(torch.tensor([[0.5, 2.0]]))
    expected = [
        2.0 * 0.5 + 1.0,
        math.sin(math.pi * 0.5 + math.pi / 2),
        math.sin(0.5 * 0.5),  # feature 0
        -1.0 * 2.0 + 0.5,
        math.sin(1.0 * 2.0 - 1.0),
        math.sin(3.0 * 2.0 + 0.25),  # feature 1
    ]
    assert out.shape == (1, 6)
    assert torch.allclose(out[0], torch.tensor(expected), atol=1e-6)


def test_phase_is_inside_the_sine():
    t2v = Time2Vec(1, 2)
    with torch.no_grad():
        t2v.omega.copy_(torch.tensor([[0.0, 0.0]]))
        t2v.phi.copy_(torch.tensor([[0.0, math.pi / 2]]))
    # sin(0 * tau + pi/2) = 1 for every tau; sin(0 * tau) + pi/2 would be 1.57
    assert torch.allclose(t2v(torch.tensor([[3.0]]))[0, 1], torch.tensor(1.0))


def test_leading_dimensions_are_kept():
    assert Time2Vec(5, 4)(torch.rand(3, 7, 5)).shape == (3, 7, 20)
