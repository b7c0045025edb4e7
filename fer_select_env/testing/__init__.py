"""Tiny datasets and registry-wide conformance checks, importable by the package's tests and by users who
extend the suite (as SB3's ``common.envs`` and PettingZoo's ``test`` are).

* :mod:`.toy`: learnable toy datasets built in memory, a FER2013-copy writer in the real file format, and a
  classifier configuration small enough to train in about a second.
* :mod:`.checks`: what every registered env id must pass: both env checkers, registration in a freshly
  spawned interpreter, and determinism under a fixed seed; and for an id with a native vector env, that it
  matches Gymnasium's ``SyncVectorEnv`` over single envs.
"""

from fer_select_env.testing.checks import (
    SMOKE_KWARGS,
    check_determinism,
    check_env_conformance,
    check_registration_in_spawned_process,
    check_vector_entry_point,
    make_smoke_env,
    registered_env_ids,
    vector_env_ids,
)
from fer_select_env.testing.toy import (
    SELECTOR_TEST_CONFIG,
    TINY_CLASSIFIER,
    TINY_SEQUENCE_CLASSIFIER,
    make_blob_dataset,
    write_fer2013_copy,
)

__all__ = [
    "SELECTOR_TEST_CONFIG",
    "SMOKE_KWARGS",
    "TINY_CLASSIFIER",
    "TINY_SEQUENCE_CLASSIFIER",
    "check_determinism",
    "check_env_conformance",
    "check_registration_in_spawned_process",
    "check_vector_entry_point",
    "make_blob_dataset",
    "make_smoke_env",
    "registered_env_ids",
    "vector_env_ids",
    "write_fer2013_copy",
]
