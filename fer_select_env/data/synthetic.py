"""Kept alias: ``fer_select_env.data.synthetic`` moved to :mod:`fer_select_env.faces.action_units`,
:mod:`fer_select_env.faces.renderer`, :mod:`fer_select_env.data.scenarios`.

Its public names stay importable here, so existing imports keep working.
"""

from fer_select_env.data.scenarios import (
    NOISE_CLEAN,
    NOISE_HALF_FACE,
    NOISE_LABEL_FLIPPED,
    NOISE_NO_FACE,
    SCENARIO_MIX,
    SCENARIOS,
    make_synthetic_dataset,
    scenario_counts,
)
from fer_select_env.faces.action_units import (
    ACTION_UNITS,
    AU_DESCRIPTIONS,
    AU_INDEX,
    AU_JITTER_SD,
    BACKGROUND_MAX,
    BACKGROUND_RATE,
    EMOTION_AU_PROTOTYPES,
    FER2013_CLASS_NAMES,
    INTENSITY_RANGE,
    sample_action_units,
)
from fer_select_env.faces.renderer import (
    check_image_size,
    render_faces,
)

# Read by the import-layer test, which exempts kept aliases from the one-way rule.
__alias_of__ = ("fer_select_env.faces.action_units", "fer_select_env.faces.renderer", "fer_select_env.data.scenarios")
__all__ = [
    "ACTION_UNITS",
    "AU_DESCRIPTIONS",
    "AU_INDEX",
    "AU_JITTER_SD",
    "BACKGROUND_MAX",
    "BACKGROUND_RATE",
    "EMOTION_AU_PROTOTYPES",
    "FER2013_CLASS_NAMES",
    "INTENSITY_RANGE",
    "NOISE_CLEAN",
    "NOISE_HALF_FACE",
    "NOISE_LABEL_FLIPPED",
    "NOISE_NO_FACE",
    "SCENARIOS",
    "SCENARIO_MIX",
    "check_image_size",
    "make_synthetic_dataset",
    "render_faces",
    "sample_action_units",
    "scenario_counts",
]
