"""The runnable examples end to end on a tiny npz (the README's main job among them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fer_select_env.testing import make_blob_dataset, write_fer2013_copy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import custom_agent  # noqa: E402
import train_grpo_openvocab  # noqa: E402
import train_grpo_reason  # noqa: E402
import train_ppo  # noqa: E402
import train_reinforce  # noqa: E402
import train_sac_smile  # noqa: E402


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("examples") / "tiny.npz"
    make_blob_dataset(n_train=40, n_val=21, n_test=21, noise_rate=0.25).to_npz(path)
    return str(path)


def test_train_reinforce_main_job(tiny_npz, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["--data", tiny_npz, "--episodes", "2", "--pretrain-episodes", "2", "--min-gradient-steps", "0"]
    args += ["--final-min-steps", "0", "--tensorboard-log", "tb"]  # 640 steps on 40 images: minutes
    args += ["--num-envs", "auto"]
    assert train_reinforce.main(args) == 0
    out = capsys.readouterr().out
    assert "for 2 passes of 40 images (2 at once)" in out  # the native vector env, two passes per round
    assert "keep_all" in out and "reinforce" in out and "removal F1" in out and "TensorBoard logs in tb/" in out
    # the policy's own selection next to the default rule's (policy_capped)
    assert "policy: keep iff p > 1/2" in out and "no class losing more than its estimated noise" in out
    assert (tmp_path / "reinforce_selector.zip").is_file()
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    pngs = {p.name for p in (tmp_path / "plots").glob("*.png")}
    assert {"reinforce_gallery.png", "reinforce_selection_progress.png", "confusion_before_after.png"} <= pngs


def test_train_reinforce_names_the_rule_behind_its_reinforce_row():
    describe = train_reinforce.describe_rule
    assert "class budget 0.5 of the estimated noise" in describe(
        {"selection_rule": "class_budget", "budget_fraction": 0.5}
    )
    assert "(12 restored)" in describe({"selection_rule": "policy_capped", "cap_restored": 12})
    assert "selection_rule='policy'" in describe({})
    assert train_reinforce.parse_args(["--rl-selection", "class_budget"]).rl_selection == "class_budget"


def test_train_reinforce_steps_together_only_passes_that_keep_their_number():
    lockstep = train_reinforce.lockstep_passes
    assert lockstep(5, 15) == 5  # the default budget: one round of pre-training, three of learning
    assert [lockstep(7, 21), lockstep(16, 48), lockstep(12, 36), lockstep(5, 7), lockstep(0, 15)] == [7, 8, 6, 1, 5]


@pytest.mark.parametrize("value", ["0", "2.5", "many"])
def test_train_reinforce_refuses_a_bad_num_envs(capsys, value):
    with pytest.raises(SystemExit) as exc:
        train_reinforce.main(["--num-envs", value])
    assert exc.value.code == 2 and "--num-envs" in capsys.readouterr().err


def test_train_reinforce_refuses_a_num_envs_that_would_add_passes(tiny_npz, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = ["--data", tiny_npz, "--episodes", "3", "--pretrain-episodes", "1", "--min-gradient-steps", "0"]
    assert train_reinforce.main([*args, "--num-envs", "2"]) == 2
    assert "must divide both the 1 pre-training and the 3 learning passes" in capsys.readouterr().err


def test_train_ppo(tiny_npz, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert train_ppo.main(["--data", tiny_npz, "--episodes", "2", "--tensorboard-log", "tb"]) == 0
    assert "test macro-F1" in capsys.readouterr().out and (tmp_path / "ppo_selector.zip").is_file()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # cold GRPO's flat-group warning, by design
def test_train_grpo_reason_three_stages(tmp_path, capsys):
    import json

    out = tmp_path / "reasoning.json"
    args = ["--seeds", "0", "--quick", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    assert train_grpo_reason.main(args) == 0
    text = capsys.readouterr().out
    assert "| sft+grpo |" in text and "| maskable_ppo |" in text and "Synthesis with" in text
    result = json.loads(out.read_text())["seeds"][0]
    assert (
        set(result["rows"])
        == set(result["val_rows"])
        >= {
            "sft",
            "sft+grpo",
            "grpo_cold",
            "ppo",
            "sft+grpo_align",
            "weak_sft",
            "weak_sft+grpo",
            "weak_sft+grpo_no_format",
        }
    )
    assert [r["round"] for r in result["synthesis"]] == [0, 1]
    # --stages reruns chosen stages (the same numbers: each model is seeded); --merge keeps the other rows
    merged = tmp_path / "merged.json"
    again = ["--seeds", "0", "--quick", "--stages", "sft+grpo_align", "--merge", str(out), "--out", str(merged)]
    assert train_grpo_reason.main([*again, "--cache-dir", str(tmp_path / "cache")]) == 0
    redone = json.loads(merged.read_text())["seeds"][0]
    assert set(redone["rows"]) == set(result["rows"]) and redone["synthesis"] == result["synthesis"]
    assert redone["rows"]["sft+grpo_align"] == result["rows"]["sft+grpo_align"]
    assert redone["rows"]["sft"] == result["rows"]["sft"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_train_grpo_openvocab_sft_then_grpo(tmp_path, capsys):
    import json

    from agents.reasoning.openvocab import STAGE_ROWS

    out = tmp_path / "openvocab.json"
    args = ["--seeds", "0", "--quick", "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    assert train_grpo_openvocab.main(args) == 0
    text = capsys.readouterr().out
    assert "| sft+grpo |" in text and "| one_per_category |" in text and "metric ew_f-1" in text
    rows = json.loads(out.read_text())["seeds"][0]["rows"]
    assert set(rows) == {row for stage_rows in STAGE_ROWS.values() for row in stage_rows}
    assert rows["one_per_category"]["ew_r_level1"] == 100.0
    assert "sft+grpo_valence minus sft+grpo per seed" in text
    # --stages remakes chosen rows (the same numbers: each model is seeded) and --merge adds them to a file
    merged = tmp_path / "merged.json"
    again = ["--seeds", "0", "--quick", "--stages", "sft,sft+grpo_valence", "--merge", str(out), "--out", str(merged)]
    assert train_grpo_openvocab.main([*again, "--cache-dir", str(tmp_path / "cache")]) == 0
    redone = json.loads(merged.read_text())["seeds"][0]["rows"]
    assert set(redone) == set(rows) and redone["sft+grpo_valence"] == rows["sft+grpo_valence"]
    with pytest.raises(SystemExit):
        train_grpo_openvocab.main(["--stages", "sft+grpo_valence", "--quick"])  # needs sft


def test_quickstart_tour(tiny_npz, capsys):
    import quickstart

    quickstart.main(["--scenario", tiny_npz, "--episodes", "1"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("keep_all", "random_70%", "label_plausible"))


def test_custom_agent(tiny_npz):
    summary = custom_agent.main(["--data", tiny_npz, "--episodes", "2"])
    assert summary["episode"] == 1 and 0.0 <= summary["kept_fraction"] <= 1.0 and "removal_f1" in summary


def test_missing_data_file_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exc:
        train_reinforce.main(["--data", "no_such.npz"])
    assert exc.value.code == 2 and "no such file: no_such.npz" in capsys.readouterr().err


def test_paper_fer2013_protocol_on_a_tiny_evaluation_copy(tmp_path, capsys, monkeypatch):
    import paper_fer2013

    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=63)
    monkeypatch.setattr(paper_fer2013, "ClassifierConfig", lambda **kw: _tiny_config())
    out = tmp_path / "paper.json"
    args = ["--data", str(path), "--episodes", "1", "--out", str(out), "--train-limit", "14"]
    assert paper_fer2013.main(args) == 0
    text = capsys.readouterr().out
    assert "paper 72.35" in text and "FER+ reference, keep_all" in text and out.is_file()


def test_paper_fer2013_agents_and_baseline_flags(tmp_path, capsys, monkeypatch):
    import paper_fer2013

    path = tmp_path / "fer2013.npz"
    write_fer2013_copy(path, n=63)
    with pytest.raises(SystemExit) as exc:
        paper_fer2013.main(["--data", str(path), "--agents", "keep_all,dcnn"])
    assert exc.value.code == 2 and "unknown agent(s) dcnn" in capsys.readouterr().err

    seen = {}

    def fake_run_benchmark(dataset, agents, seeds, settings, **kwargs):
        seen.update(agents=agents, env=settings.rl.extra_env_kwargs)
        return {"meta": {"class_names": []}, "agents": {}}

    monkeypatch.setattr(paper_fer2013, "run_benchmark", fake_run_benchmark)
    monkeypatch.setattr(paper_fer2013, "format_table", lambda results: "")
    args = ["--data", str(path), "--agents", "reinforce", "--baseline", "uniform", "--out", str(tmp_path / "o.json")]
    assert paper_fer2013.main(args) == 0
    assert seen == {"agents": ["reinforce"], "env": {"baseline": "uniform"}}


def test_paper_fer2013_model_switch_picks_the_fig4_vgg():
    import paper_fer2013

    cpu, full = paper_fer2013.classifier_config("vgg", False), paper_fer2013.classifier_config("vgg", True)
    assert (cpu.architecture, cpu.width, cpu.max_epochs) == ("vgg", 16, 20)
    assert (full.architecture, full.width, full.max_epochs) == ("vgg", 64, 100)
    assert paper_fer2013.classifier_config("fig3", False).architecture == "fig3"


def _tiny_config():
    from fer_select_env.models import ClassifierConfig

    return ClassifierConfig(width=4, feature_dim=16, max_epochs=3, min_epochs=1, head_batch_size=32, head_max_epochs=4)


@pytest.mark.parametrize("algo", ["sac", "dqn"])
def test_train_sac_smile_compares_with_monte_carlo(tmp_path, capsys, algo):
    import json

    env_kwargs = {
        "faces": {"n_train": 60, "n_val": 20, "n_test": 10},
        "classifier": {"width": 2, "hidden": 8, "epochs": 1},
        "cache_dir": str(tmp_path / "cache"),
        "max_steps": 4,
        "n_frames": 2,
    }
    out = tmp_path / "smile.json"
    pictures = tmp_path / "img"
    args = ["--algo", algo, "--timesteps", "300", "--viewers", "2", "--out", str(out), "--pictures", str(pictures)]
    args += ["--history", "1"] if algo == "dqn" else []  # the bare observation too
    result = train_sac_smile.main([*args, "--env-kwargs", json.dumps(env_kwargs)])
    text = capsys.readouterr().out
    assert f"{algo} − monte_carlo, final true smile" in text
    assert set(result["results"]) == {algo, "monte_carlo", "monte_carlo_remeasure", "random_search", "oracle"}
    assert json.loads(out.read_text())["results"]["oracle"]["0"]["episodes"] == 2
    assert (pictures / f"smile_strip_{algo}.png").is_file() and (pictures / "smile_strip_monte_carlo.png").is_file()
    merged = train_sac_smile.main(["--merge", str(out), "--pictures", str(pictures)])
    assert merged["results"].keys() == result["results"].keys() and (pictures / "smile_curves.png").is_file()
