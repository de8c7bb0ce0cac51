"""vssleval.engine: a run's raw maps, computed in batches and kept in a resumable store.

Entry points::

    run_inference(spec: RunSpec, out_dir, resume=False, overwrite=False) -> RunOutcome   # runner
    score_run(store, protocol=None, bootstrap=200, allow_nonfinite=False)               # scoring
        -> (Accumulator, warnings)   non-finite maps refused unless allowed, then score_store
    score_store(store: HeatmapStore, protocol=None, bootstrap=200) -> Accumulator       # scoring
    HeatmapStore.open(run_dir_or_store)                                                  # store
    prepare_run(config, protocol, store=None) -> Setup   # the protocol's set-up, or its refusal  # scoring
    upsample_plan_for(model, testset, protocol, preset)  # a registered model's upsampling plan    # scoring

A run (:class:`~vssleval.engine.spec.RunSpec`: model, preset, protocol, dataset, negatives, seeds)
writes every raw low-resolution map of every sample x audio variant x seed to ``out_dir/store``
(format in :mod:`vssleval.engine.store`); scoring reads the store and feeds
:class:`vssleval.metrics.Accumulator`, so metrics never need the model. Devices, ``--amp`` and
``torchrun`` sharding are in :mod:`.device` and :mod:`.distributed`; every model output is
checked against the model contract by :mod:`.contract`. The engine uses data,
frontends, models and metrics; the report package never imports it.
"""
