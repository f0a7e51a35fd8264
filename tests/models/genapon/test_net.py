import pytest
import torch

from socdem.models.genapon.batches import PaddedBatch
from socdem.models.genapon.net import GenaponNet


def make_batch(lengths, width=None, n_user=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    width = width or int(lengths.max())
    return PaddedBatch(
        video=torch.randint(0, 20, (len(lengths), width), generator=g),
        author=torch.randint(0, 5, (len(lengths), width), generator=g),
        time=torch.rand(len(lengths), width, 5, generator=g),
        lengths=lengths,
        user=torch.randn(len(lengths), n_user, generator=g),
    )


def net(encoder="attention", targets=("sex", "age_class"), n_user=3, **kwargs):
    torch.manual_seed(0)
    return GenaponNet(
        20,
        5,
        n_user,
        5,
        targets=targets,
        embedding_dim=4,
        hidden_dim=8,
        time_dim=3,
        time_encoder=encoder,
        dropout=0.0,
        **kwargs,
    ).eval()


def evidence_tables(n_tables=3, seed=1):
    tables = torch.randn(n_tables, 5, 5, generator=torch.Generator().manual_seed(seed))
    tables[:, 0] = 0.0  # the UNK row
    return tables


@pytest.mark.parametrize("encoder", ["attention", "lstm"])
def test_output_shapes(encoder):
    model = net(encoder)
    logits = model(make_batch([3, 0, 7, 1]))
    assert logits.shape == (4, 5)
    parts = model.split_logits(logits)
    assert parts["sex"].shape == (4,) and parts["age_class"].shape == (4, 4)
    assert torch.isfinite(logits).all()  # also for the user without events
    assert net(encoder, targets=("sex",), n_user=0)(make_batch([2, 5], n_user=0)).shape == (2, 1)


@pytest.mark.parametrize("encoder,evidence", [("attention", False), ("lstm", False), ("attention", True)])
def test_adding_padded_positions_changes_nothing(encoder, evidence):
    model = net(encoder, evidence=evidence_tables() if evidence else None)
    batch = make_batch([3, 0, 7, 1])
    wider = make_batch([3, 0, 7, 1], width=12, seed=5)  # different garbage beyond each length
    for name in ("video", "author", "time"):
        getattr(wider, name)[:, :7] = getattr(batch, name)
    wider.user = batch.user
    with torch.no_grad():
        assert torch.allclose(model(batch), model(wider), atol=1e-5)


def test_set_branch_ignores_the_order_of_events():
    model = net()
    batch = make_batch([6, 6])
    perm = torch.randperm(6)
    with torch.no_grad():
        items = torch.cat([model.video(batch.video), model.author(batch.author)], dim=-1)
        mask = torch.ones(2, 6, dtype=torch.bool)
        assert torch.allclose(model.set_encoder(items, mask), model.set_encoder(items[:, perm], mask), atol=1e-6)


def test_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = GenaponNet(20, 5, 3, 5, embedding_dim=8, hidden_dim=16, time_dim=4, dropout=0.0)
    batch = make_batch([5, 2, 8, 3, 6, 1, 4, 7], seed=3)
    sex = torch.tensor([0.0, 1, 1, 0, 1, 0, 0, 1])
    age = torch.tensor([0, 3, 1, 2, 2, 0, 3, 1])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(300):
        parts = model.split_logits(model(batch))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            parts["sex"], sex
        ) + torch.nn.functional.cross_entropy(parts["age_class"], age)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    parts = model.eval().split_logits(model(batch))
    assert ((parts["sex"] > 0).float() == sex).all() and (parts["age_class"].argmax(1) == age).all()


def test_unknown_time_encoder_fails_loudly():
    with pytest.raises(ValueError, match="time_encoder"):
        net("transformer")


def test_author_evidence_reads_each_users_table_and_prediction_reads_the_last():
    model = net(evidence=evidence_tables())
    batch = make_batch([4, 6, 2])
    with torch.no_grad():
        default = model(batch)
        batch.table = torch.tensor([2, 2, 2])
        assert torch.equal(model(batch), default)
        batch.table = torch.tensor([0, 2, 1])
        other = model(batch)
    assert torch.equal(other[1], default[1]) and not torch.equal(other[0], default[0])


def test_author_evidence_starts_as_naive_bayes_on_the_logits():
    model = net(evidence=evidence_tables())
    batch = make_batch([5, 3])
    with torch.no_grad():
        with_evidence = model(batch)
        model.evidence_logits.weight.zero_()
        without = model(batch)
    # the linear path adds the evidence summed over the user's events (here no
    # `distinct` flags: every event counts), with weight one on its own logit
    tables = evidence_tables()[-1]
    expected = torch.stack([tables[batch.author[i, :n]].sum(0) for i, n in enumerate(batch.lengths)])
    assert torch.allclose(with_evidence - without, expected, atol=1e-5)


def test_title_words_change_the_output_and_padding_changes_nothing():
    g = torch.Generator().manual_seed(3)
    batch = make_batch([4, 2, 3])
    words = torch.randint(0, 10, (3, 4, 8), generator=g)
    words[~batch.mask] = 0
    batch.words = words
    model = net(n_words=10)
    out = model(batch)
    padded = make_batch([4, 2, 3], width=7)
    padded.words = torch.zeros(3, 7, 8, dtype=torch.int64)
    for name in ("video", "author", "time"):
        getattr(padded, name)[:, :4] = getattr(batch, name)
    padded.words[:, :4] = words
    padded.user = batch.user
    torch.testing.assert_close(model(padded), out)
    batch.words = torch.where(words > 0, (words % 9) + 1, 0)  # other words, same events
    assert not torch.allclose(model(batch), out)


def test_title_vectors_change_the_output_and_padding_changes_nothing():
    g = torch.Generator().manual_seed(4)
    batch = make_batch([4, 2, 3])
    vectors = torch.randn(3, 4, 6, generator=g) * batch.mask.unsqueeze(-1)
    batch.title_vec = vectors
    model = net(n_title_dims=6)
    out = model(batch)
    padded = make_batch([4, 2, 3], width=7)
    for name in ("video", "author", "time"):
        getattr(padded, name)[:, :4] = getattr(batch, name)
    padded.title_vec = torch.zeros(3, 7, 6)
    padded.title_vec[:, :4] = vectors
    padded.user = batch.user
    torch.testing.assert_close(model(padded), out)
    batch.title_vec = vectors.flip(-1)  # other meanings, same events
    assert not torch.allclose(model(batch), out)
