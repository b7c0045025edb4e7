"""Every registered env id, taken from the registry, passes both env checkers, registration in a fresh
interpreter and the determinism check (:mod:`fer_select_env.testing.checks`)."""

from __future__ import annotations

import gymnasium as gym
import pytest

import fer_select_env
from fer_select_env.envs import ENV_FAMILIES, ENV_IDS, ENV_SPECS
from fer_select_env.testing import (
    SMOKE_KWARGS,
    check_determinism,
    check_env_conformance,
    check_registration_in_spawned_process,
    check_vector_entry_point,
    registered_env_ids,
    vector_env_ids,
)

IDS = registered_env_ids()


def test_the_id_table_is_what_gymnasium_registers():
    assert IDS == sorted(ENV_IDS)
    assert fer_select_env.ENV_IDS == ENV_IDS
    for row in ENV_SPECS:
        spec = gym.spec(row.id)
        assert spec.entry_point == row.entry_point
        assert spec.kwargs == dict(row.kwargs)
        assert spec.vector_entry_point == row.vector_entry_point
        assert row.entry_point.startswith(f"fer_select_env.envs.{row.family}.")


def test_every_family_has_a_smoke_instance():
    assert set(ENV_FAMILIES) <= set(SMOKE_KWARGS)


def test_importing_the_package_twice_registers_once(recwarn):
    import importlib

    importlib.reload(fer_select_env)
    assert not [w for w in recwarn if "already in registry" in str(w.message)]


@pytest.mark.parametrize("env_id", IDS)
def test_env_checkers_pass(env_id, tmp_path):
    check_env_conformance(env_id, tmp_path)


@pytest.mark.parametrize("env_id", IDS)
def test_registration_in_a_fresh_interpreter(env_id, tmp_path):
    report = check_registration_in_spawned_process(env_id, tmp_path)
    assert report["registered"]


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_trajectory(env_id, tmp_path):
    check_determinism(env_id, tmp_path)


def test_the_select_ids_have_a_native_vector_env():
    assert vector_env_ids() == ["FERSelect-v0", "FERSelectLabelAware-v0"]


@pytest.mark.parametrize("env_id", vector_env_ids())
def test_native_vector_env_matches_sync_vector_env(env_id, tmp_path):
    check_vector_entry_point(env_id, tmp_path)
