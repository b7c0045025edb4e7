"""The embedded models: the paper's Fig. 3 CNN and its Fig. 4 VGG-style network (:mod:`.cnn`), their
training with early stopping on the validation split (:mod:`.classifier`) and the cached pre-training
(:mod:`.pretrain`)."""

from fer_select_env.core.seeding import resolve_device, rng_scope, thread_limit
from fer_select_env.models.classifier import EmotionClassifier, FitReport
from fer_select_env.models.cnn import (
    ARCHITECTURES,
    CHANNEL_MULTIPLIERS,
    VGG_PLAN,
    ClassifierConfig,
    EmotionCNN,
    conv_channels,
    vgg_channels,
)
from fer_select_env.models.pretrain import pretrain_cache_path, pretrain_classifier
from fer_select_env.models.sequence import (
    SEQUENCE_KINDS,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceFitReport,
    sequence_data_fingerprint,
    sequence_posteriors,
    train_sequence_classifier,
)

__all__ = [
    "ARCHITECTURES",
    "CHANNEL_MULTIPLIERS",
    "SEQUENCE_KINDS",
    "VGG_PLAN",
    "ClassifierConfig",
    "EmotionCNN",
    "EmotionClassifier",
    "FitReport",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceFitReport",
    "conv_channels",
    "pretrain_cache_path",
    "pretrain_classifier",
    "resolve_device",
    "rng_scope",
    "sequence_data_fingerprint",
    "sequence_posteriors",
    "thread_limit",
    "train_sequence_classifier",
    "vgg_channels",
]
