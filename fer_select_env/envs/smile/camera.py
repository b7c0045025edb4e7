"""The camera side of FERSmile-v0: the reward classifier and the referee, trained once per process and cached.

The reward classifier is :class:`~fer_select_env.models.camera.CameraClassifier` trained on rendered five-class
faces (or on FER2013's five classes); the referee is a second one trained on other rendered faces, with
another seed and a wider dense layer. It is reported, never rewarded: a policy that games the reward
classifier shows up as a gap between the two.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from fer_select_env.data.dataset import FERDataset
from fer_select_env.data.five_class import five_class_subset, make_five_class_faces
from fer_select_env.models.camera import CameraClassifier, CameraClassifierConfig, train_camera_classifier

REFEREE_SEED_OFFSET = 1000
"""The referee's faces are rendered from ``seed + 1000`` and its weights start from ``seed + 1``."""


def _config(value: object, seed: int) -> CameraClassifierConfig:
    if value is None:
        return CameraClassifierConfig(seed=seed)
    if isinstance(value, CameraClassifierConfig):
        return value
    if isinstance(value, Mapping):
        return CameraClassifierConfig.from_dict(dict(value))
    raise ValueError(f"classifier: must be None, a dict of CameraClassifierConfig fields or a config, got {value!r}")


def _faces(value: object) -> tuple[tuple[str, Any], ...]:
    allowed = {"n_train", "n_val", "n_test", "image_size"}
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ValueError(f"faces: must be a dict of make_five_class_faces arguments or None, got {value!r}")
    unknown = set(value) - allowed
    if unknown:
        raise ValueError(f"faces: unknown key(s) {sorted(map(str, unknown))}; allowed: {sorted(allowed)}")
    return tuple(sorted(value.items()))


def _reward_data(data: str | os.PathLike, seed: int, faces: tuple) -> FERDataset:
    if isinstance(data, str) and data == "synthetic":
        return make_five_class_faces(seed=seed, **dict(faces))
    if isinstance(data, (str, os.PathLike)):
        from fer_select_env.data.loaders import load_fer2013  # only when FER2013 is asked for

        return five_class_subset(load_fer2013(data))
    raise ValueError(f"classifier_data: must be 'synthetic' or the path of a FER2013 file, got {data!r}")


@functools.lru_cache(maxsize=4)
def _trained(
    data: str, seed: int, faces: tuple, config: CameraClassifierConfig, cache_dir: str | None
) -> tuple[CameraClassifier, CameraClassifier, dict[str, Any]]:
    reward_clf, report = train_camera_classifier(_reward_data(data, seed, faces), config, cache_dir)
    referee_config = CameraClassifierConfig(
        **{**config.to_dict(), "hidden": 2 * config.hidden, "seed": config.seed + 1}
    )
    referee_data = make_five_class_faces(seed=seed + REFEREE_SEED_OFFSET, **dict(faces))
    referee, referee_report = train_camera_classifier(referee_data, referee_config, cache_dir)
    return reward_clf, referee, {"classifier": report.to_dict(), "referee": referee_report.to_dict()}


def camera_classifiers(
    classifier_data: str | os.PathLike = "synthetic",
    seed: int = 0,
    faces: Mapping[str, Any] | None = None,
    classifier: CameraClassifierConfig | Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[CameraClassifier, CameraClassifier, dict[str, Any]]:
    """``(reward classifier, referee, their fit reports)``: trained on first use, cached on disk, and kept in
    memory for the process (envs of one vector env share them).

    :param classifier_data: ``"synthetic"`` (rendered five-class faces) or the path of a FER2013 file, whose
        five classes the reward classifier then learns (the referee stays on rendered faces: other data)
    :param seed: the faces' and the weights' seed
    :param faces: :func:`~fer_select_env.data.five_class.make_five_class_faces` sizes (small ones for tests)
    :param classifier: the reward classifier's config (default: the defaults with ``seed``); the referee
        doubles its dense layer and adds 1 to its seed
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"classifier_seed: must be an integer >= 0, got {seed!r}")
    if not isinstance(classifier_data, (str, os.PathLike)):
        raise ValueError(f"classifier_data: must be 'synthetic' or the path of a FER2013 file, got {classifier_data!r}")
    data = os.fspath(classifier_data)
    cache = None if cache_dir is None else os.fspath(cache_dir)
    return _trained(data, seed, _faces(faces), _config(classifier, seed), cache)


__all__ = ["REFEREE_SEED_OFFSET", "camera_classifiers"]
