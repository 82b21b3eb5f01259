"""The shipped model files: listed in models/SHA256SUMS, checked on every load, a tampered copy refused."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

import metatrack
from metatrack.errors import CheckpointError
from metatrack.modelfile import SUMS_FILE, listed_sha256, load_model

MODELS = Path(metatrack.__file__).parent / "models"
SHIPPED = {"metasdnet.safetensors": "metasdnet", "metacrest.safetensors": "metacrest", "mdnet.safetensors": "mdnet",
           "metasdnet_features.safetensors": "metasdnet", "metacrest_online.safetensors": "metacrest",
           "metasdnet_online.safetensors": "metasdnet", "metacrest_step.safetensors": "metacrest"}


def test_every_model_file_in_the_package_is_one_of_these():
    assert {p.name for p in MODELS.glob("*.safetensors")} == set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_model_is_listed_with_its_true_sha256(name):
    path = MODELS / name
    assert listed_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_tampered_copy_beside_the_list_is_refused(tmp_path, name):
    shutil.copy(MODELS / SUMS_FILE, tmp_path / SUMS_FILE)
    copy = tmp_path / name
    data = bytearray((MODELS / name).read_bytes())
    data[-1] ^= 0xFF  # one bit pattern in the last tensor's bytes: still a valid safetensors file
    copy.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 mismatch.*listed in .*SHA256SUMS"):
        load_model(copy, SHIPPED[name])
    shutil.copy(MODELS / name, copy)  # the untouched bytes load
    tensors, _ = load_model(copy, SHIPPED[name])
    assert tensors


def test_a_model_elsewhere_is_not_checked_and_a_malformed_list_names_its_line(tmp_path):
    path = tmp_path / "metasdnet.safetensors"
    shutil.copy(MODELS / "metasdnet.safetensors", path)
    assert listed_sha256(path) is None
    assert load_model(path, "metasdnet")[0]
    (tmp_path / SUMS_FILE).write_text(f"{'0' * 64}  other.safetensors\nnot a checksum line\n")
    with pytest.raises(CheckpointError, match=r"SHA256SUMS, line 2"):
        listed_sha256(path)


def test_the_shipped_mdnet_model_is_the_shared_layers_of_its_config_and_loads_in_mdnet_n():
    import yaml

    from metatrack.trackers import create_tracker
    from metatrack.trackers.sdnet.pretrain import SHARED

    tensors, info = load_model(MODELS / "mdnet.safetensors", "mdnet")
    assert sorted(tensors) == sorted(f"theta0.{name}" for name in SHARED)  # no alpha, no domain branch
    config = yaml.safe_load((MODELS.parent / "configs" / "mdnet.yaml").read_text())
    assert all(info["config"][k] == v for k, v in config["tracker"].items())
    assert info["extra"]["domain_mode"] == "sequence" and info["extra"]["domains"] > 1
    assert info["extra"]["iterations"] == config["pretraining"]["iterations"]
    tracker = create_tracker("mdnet-30")
    assert all(tracker.shared[name].equal(tensors[f"theta0.{name}"]) for name in SHARED)
