"""The TRL-signature rewards (fer_select_env/envs/text/rewards.py) inside TRL's own ``GRPOTrainer``.

Needs the ``trl`` extra (``pip install -c constraints.txt -e ".[trl]"``); skipped without it. Nothing is
downloaded: the tokenizer is a word-level vocabulary built here and the causal LM a randomly initialised Qwen2
built from a config. The keyword columns a reward function receives are those of TRL 1.16's
``GRPOTrainer._calculate_rewards`` (``trl/trainer/grpo_trainer.py``): ``prompts``, ``completions``,
``completion_ids``, every dataset column other than ``prompt``, ``trainer_state``, ``log_extra``, ``log_metric``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")
tokenizers = pytest.importorskip("tokenizers")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from fer_select_env.envs.text.rewards import (  # noqa: E402
    accuracy_reward,
    au_reward,
    format_reward,
    trl_accuracy_reward,
    trl_au_reward,
    trl_format_reward,
)

SPECIAL = ["[PAD]", "[EOS]", "[UNK]"]
# What the policy may write: tags, AUs and emotions only, so that a random policy writes tag soup whose
# rewards differ within a group (a group whose rewards are all equal has zero advantage and no gradient).
ANSWER_WORDS = ["<think>", "</think>", "<answer>", "</answer>", "AU1", "AU4", "AU12", "happy", "sad"]
PROMPT_WORDS = ["which", "emotion", "and", "AUs", "?"]
# TRL 1.16 still calls transformers 5's deprecated gradient_checkpointing* names; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:`.*gradient_checkpointing.*` is deprecated:FutureWarning")
TRL_EXTRA_KWARGS = {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric"}


def _tokenizer() -> Any:
    """A word-level tokenizer over SPECIAL + ANSWER_WORDS + PROMPT_WORDS, split on whitespace."""
    vocab = {word: i for i, word in enumerate(SPECIAL + ANSWER_WORDS + PROMPT_WORDS)}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    # WhitespaceSplit keeps "<think>" whole (Whitespace would split it at the brackets)
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", eos_token="[EOS]", unk_token="[UNK]"
    )


def _model(tokenizer: Any) -> Any:
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=64,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return transformers.Qwen2ForCausalLM(config)


def _dataset() -> Any:
    """Two prompts in TRL's standard (non-conversational) format, with the columns our rewards read."""
    return datasets.Dataset.from_dict(
        {
            "prompt": ["which emotion and AUs ?", "emotion and AUs ?"],
            "solution": ["<answer>happy</answer>", "<answer>sad</answer>"],
            "aus": [["AU12"], ["AU1", "AU4"]],
        }
    )


def _spy(func: Callable[..., list[float]], calls: list[dict[str, Any]]) -> Callable[..., list[float]]:
    """``func`` unchanged, recording each call's kwargs and result; ``wraps`` keeps the name TRL logs under."""

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> list[float]:
        result = func(**kwargs)
        calls.append({**kwargs, "result": result})
        return result

    return wrapper


def test_one_grpo_step_with_our_rewards(tmp_path):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tokenizer = _tokenizer()
    model = _model(tokenizer)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    allowed = set(tokenizer.convert_tokens_to_ids(ANSWER_WORDS))
    calls: dict[str, list[dict[str, Any]]] = {"format": [], "acc": [], "au": []}
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=16,
        num_generations=8,  # 16 / 8: both prompts, 8 completions each, in the one step
        max_completion_length=16,
        # no early stop and no prompt words: every completion is 16 tokens of ANSWER_WORDS
        generation_kwargs={"suppress_tokens": [i for i in range(len(tokenizer)) if i not in allowed]},
        learning_rate=0.1,
        max_steps=1,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[
            _spy(trl_format_reward, calls["format"]),
            _spy(trl_accuracy_reward, calls["acc"]),
            _spy(trl_au_reward, calls["au"]),
        ],
        args=args,
        train_dataset=_dataset(),
        processing_class=tokenizer,
    )
    trainer.train()

    logs = trainer.state.log_history
    step_log = next(entry for entry in logs if "reward" in entry)
    for name in ("trl_format_reward", "trl_accuracy_reward", "trl_au_reward"):
        assert f"rewards/{name}/mean" in step_log and f"rewards/{name}/std" in step_log
    assert math.isfinite(step_log["loss"]) and math.isfinite(step_log["reward"])

    # TRL called each reward once, on all 16 completions, with the columns TRL 1.16 passes
    solutions = dict(zip(_dataset()["prompt"], _dataset()["solution"], strict=True))
    aus = dict(zip(_dataset()["prompt"], _dataset()["aus"], strict=True))
    for key, pure in (("format", None), ("acc", accuracy_reward), ("au", au_reward)):
        (call,) = calls[key]
        assert set(call) - {"result"} == TRL_EXTRA_KWARGS | {"solution", "aus"}
        assert len(call["completions"]) == len(call["result"]) == 16
        assert all(isinstance(c, str) for c in call["completions"])
        # the columns line up with the completions: row i's solution and aus belong to row i's prompt
        assert call["solution"] == [solutions[p] for p in call["prompts"]]
        assert call["aus"] == [aus[p] for p in call["prompts"]]
        if pure is None:
            expected = [format_reward(c) for c in call["completions"]]
        elif pure is accuracy_reward:
            expected = [pure(c, s) for c, s in zip(call["completions"], call["solution"], strict=True)]
        else:
            expected = [pure(c, a) for c, a in zip(call["completions"], call["aus"], strict=True)]
        assert call["result"] == expected
    assert step_log["rewards/trl_au_reward/mean"] == pytest.approx(sum(calls["au"][0]["result"]) / 16)
    assert step_log["rewards/trl_accuracy_reward/mean"] == pytest.approx(sum(calls["acc"][0]["result"]) / 16)

    # some group's rewards differed, so the advantages are not all zero and the policy moved
    assert step_log["frac_reward_zero_std"] < 1.0, "every group scored equally: no gradient this step"
    changed = [name for name, p in trainer.model.named_parameters() if not torch.equal(p.detach(), before[name])]
    assert changed, "no parameter changed after one GRPO step"


def test_wrappers_take_trl_call_convention():
    """The call TRL 1.16 makes (keyword arguments only, extra columns and trainer objects included)."""
    texts = [
        "<think>AU12 raised</think><answer>happy</answer>",  # format, accuracy, AUs all right
        "<think>AU1</think> <answer>sad</answer>",  # format right, wrong emotion, half the AUs
        "happy",  # bare answer: accuracy 1, format 0, no AUs -> -1
    ]
    solution = ["<answer>happy</answer>", "<answer>happy</answer>", "<answer>happy</answer>"]
    aus = [["AU12"], ["AU1", "AU4"], "AU6, AU12"]
    logged: list[tuple[str, Any]] = []
    kwargs = {
        "prompts": ["which emotion ?"] * 3,
        "completion_ids": [[3, 4], [5, 6], [7]],
        "solution": solution,
        "aus": aus,
        "image_path": ["a.png", "b.png", "c.png"],  # a column no reward reads
        "trainer_state": transformers.TrainerState(),
        "log_extra": lambda column, values: logged.append((column, values)),
        "log_metric": lambda name, value: logged.append((name, value)),
    }
    for completions in (texts, [[{"role": "assistant", "content": t}] for t in texts]):
        assert trl_format_reward(completions=completions, **kwargs) == [1.0, 1.0, 0.0]
        assert trl_accuracy_reward(completions=completions, **kwargs) == [1.0, 0.0, 1.0]
        assert trl_au_reward(completions=completions, **kwargs) == pytest.approx([1.0, 2 * (2 / 3) - 1, -1.0])
    assert logged == []  # the wrappers neither log nor need TRL's callbacks
