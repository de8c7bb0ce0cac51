"""``models/deferred_init.py``: a network built for a strict load skips its random draws, and one
whose initialised tensors are not all in its checkpoint is built again the usual way."""

from __future__ import annotations

import torch
from torch import nn

from vssleval.models import build_model
from vssleval.models.deferred_init import all_loaded, skipped_init


class WithInitialisedBuffer(nn.Module):
    """A layer plus a non-persistent buffer filled by ``torch.nn.init`` (not in any state dict), and
    a dropped layer (like the ResNet towers' deleted ``fc``), which does not matter."""

    def __init__(self, attribute: bool = False):
        super().__init__()
        self.layer = nn.Linear(4, 3)
        self.dropped = nn.Linear(4, 3)
        del self.dropped
        table = nn.init.constant_(torch.empty(5), 2.5)
        if attribute:
            self.table = table
        else:
            self.register_buffer("table", table, persistent=False)


def test_initialisers_are_skipped_and_recorded_then_restored():
    original = nn.init.kaiming_uniform_
    with skipped_init() as skipped:
        layer = nn.Linear(4, 3)
        assert nn.init.kaiming_uniform_ is not original
    assert nn.init.kaiming_uniform_ is original
    assert skipped == {layer.weight.untyped_storage().data_ptr(), layer.bias.untyped_storage().data_ptr()}
    assert all_loaded(layer, skipped)


def test_a_build_inside_a_build_nests_instead_of_waiting_for_itself():
    # a plug-in whose constructor builds another model enters skipped_init twice in one thread
    original = nn.init.kaiming_uniform_
    with skipped_init() as outer:
        nn.Linear(3, 2)
        with skipped_init() as inner:
            nn.Linear(5, 4)
        assert len(inner) == 2  # the inner layer's weight and bias
        nn.Linear(3, 2)
    assert len(outer) == 4  # the two outer layers only
    assert nn.init.kaiming_uniform_ is original


def test_a_skipped_tensor_outside_the_state_dict_is_reported():
    for attribute in (False, True):
        with skipped_init() as skipped:
            model = WithInitialisedBuffer(attribute)
        assert not all_loaded(model, skipped)
        assert torch.equal(WithInitialisedBuffer(attribute).table, torch.full((5,), 2.5))  # the usual way
    with skipped_init() as skipped:
        model = nn.Sequential(nn.Linear(4, 3))
        nn.Linear(4, 3)  # built and dropped
    assert all_loaded(model, skipped)


def test_global_random_state_is_left_as_it_was():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    with skipped_init():
        nn.Linear(64, 64)
    assert torch.equal(torch.rand(3), expected)


def test_built_model_equals_a_normally_initialised_one_loaded_from_the_same_file(tmp_path):
    """``synth-ezvsl`` built from a checkpoint file has exactly the file's tensors."""
    reference = build_model("synth-ezvsl")  # the shipped weights, loaded after the usual init
    path = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), path)
    model = build_model("synth-ezvsl", checkpoint=path)
    ours, theirs = model.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_every_registered_network_is_built_once():
    """No registered model falls back to a second build: every tensor its constructor initialises and
    keeps is one a strict load writes (the check needs no weights: it compares memory, not values)."""
    from vssleval.models import list_models
    from vssleval.models.registry import _instantiate, get_entry, load_model_config

    falling_back = []
    for name in list_models():
        with skipped_init() as skipped:
            model = _instantiate(get_entry(name), load_model_config(name))
        if not all_loaded(model, skipped):
            falling_back.append(name)
    assert falling_back == []
