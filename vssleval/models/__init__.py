"""The model zoo: every VSSL model behind one three-step interface.

Contract (what the engine calls)
--------------------------------
A model is a ``torch.nn.Module`` in eval mode with

``encode_image(images) -> visual``
    ``images``: float ``[B, 3, 224, 224]``, ImageNet-normalised (the preset's image front-end;
    ACL-SSL: ``[B, 3, 352, 352]``, CLIP-normalised).
    ``visual``: a tensor whose first axis is B (zoo models: ``[B, K, D, h, w]``, L2-normalised
    per location, K projection heads; the OGL prior: ``[B, 7, 7]``; ACL-SSL: the ViT hidden states
    ``[B, 3, 485, 768]``).
``encode_audio(audio) -> aud``
    ``audio``: the preset's audio front-end output with batch first (``[B, 1, 257, T]``
    spectrograms; SACL: ``[B, E, 1, 96, 64]`` VGGish examples). ``aud``: first axis B
    (zoo: ``[B, K, D]``).
``localize(visual, aud) -> raw``
    ``raw``: float ``[B, h, w]``, exactly the official map before interpolation, in the units the
    preset's ``map.raw`` names (cosine, cos/tau, (cos+1)/2). Batches pair element-wise; a batch
    of 1 on either side is broadcast, so one image's features serve many audio inputs:
    ``localize(encode_image(x[i:i+1]), encode_audio(a))``.
``forward(images, audio)``
    the same as ``localize(encode_image(images), encode_audio(audio))``.

Features are plain tensors: slice, cache, concatenate or move them between devices freely.
Run under ``torch.no_grad()``; the model never batches, caches or chooses devices itself.

After the raw map, ``model.map_rule.upsample_op(variant, dataset)`` names the 224x224
upsampling for each map variant (``positive``, ``silence``, ``noise``, ``offscreen``, ``object``)
and ``model.map_rule.normalize`` the per-image normalisation (see :mod:`vssleval.models.maps`).

Building
--------
``build_model(name, checkpoint=None, preset="juanola2025", trust_checkpoint=False, device="cpu")``
builds a registered model from ``configs/models/<name>.yaml``, loads the checkpoint strictly
(any official container; errors name the model the file most likely belongs to) and returns it
in eval mode. ``list_models()`` lists names; ``load_model_config(name)`` returns the YAML.

Your own model
--------------
Write a class with the three methods (subclassing :class:`VsslModel` gives ``forward`` and the
preset raw-map rule for free; ``vssleval new-model NAME`` writes a commented one that runs), then either ``load_model_file("my_model.py:MyModel")`` (CLI
``--model-file``; ``my_model.yaml`` beside it is its preset file) or declare an entry point in
group ``vssleval.models``.

Importing this package imports no model and no torch: the names above are imported on first use
(:mod:`vssleval._lazy`), and each built-in model's module when the model is first built
(:data:`vssleval.models.registry.BUILTIN`), so ``vssleval models`` lists the zoo and its
checkpoints from the YAMLs alone.
"""

from vssleval import _lazy

_NAMES = {"MapRule": "vssleval.models.maps", "TwoTowerCosine": "vssleval.models.twotower",
          "VsslModel": "vssleval.models.base", "read_checkpoint": "vssleval.models.checkpoint",
          **{name: "vssleval.models.registry" for name in (
              "build_model", "guess_model", "list_models", "load_model_config", "load_model_file", "register_model")}}

__all__ = [
    "MapRule",
    "TwoTowerCosine",
    "VsslModel",
    "build_model",
    "guess_model",
    "list_models",
    "load_model_config",
    "load_model_file",
    "read_checkpoint",
    "register_model",
]

__getattr__, __dir__ = _lazy.exports(globals(), _NAMES)
