"""The experiment layer: the one agent registry and what runs agents by name on datasets.

* :mod:`~agents.experiment.registry`: every agent name, with what the benchmark, ``train`` and ``clean`` need;
* :mod:`~agents.experiment.settings`: :class:`RLSettings` and :class:`BenchmarkSettings`;
* :mod:`~agents.experiment.rl_selection`: the env, builders and selectors of the RL agents;
* :mod:`~agents.experiment.benchmark`: the engine (selection, final training, ``results.json``);
* :mod:`~agents.experiment.suites`: the named, versioned task suites (``quick-v1``, ``standard-v1``, ...);
* :mod:`~agents.experiment.checkpoint`: resumable training with exact resume;
* :mod:`~agents.experiment.selector_io`: the saved-selector format;
* :mod:`~agents.experiment.report`: the run report and its files;
* :mod:`~agents.experiment.cli`: the ``fer-select`` command.

Dependencies run one way: the algorithms (``agents.common``, ``agents.reinforce``, ``agents.baselines``)
never import this package.
"""
