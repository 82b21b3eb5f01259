"""The ImageNet MobileNetV2 checkpoint is fetched, checked by sha256 and loads into torchvision."""

from pathlib import Path

import numpy as np
import pytest
import torch

from metatrack.backbones import ImageNetNormalize, mobilenet_v2
from metatrack.errors import CheckpointError
from metatrack.weights import MOBILENET_V2, ensure_weights, load_checked_state_dict, sha256_file


def test_checkpoint_is_where_torchvision_looks_and_checks_out():
    path = ensure_weights(MOBILENET_V2)
    assert path.name == "mobilenet_v2-b0353104.pth"
    assert path.parent == Path(torch.hub.get_dir()) / "checkpoints"
    assert sha256_file(path) == MOBILENET_V2.sha256


def test_pretrained_mobilenet_recognises_a_real_cat():
    """skimage's 'chelsea' photo is a cat: ImageNet classes 281-285 are cats."""
    from skimage import data

    img = torch.from_numpy(np.ascontiguousarray(data.chelsea())).permute(2, 0, 1)[None].float()
    img = torch.nn.functional.interpolate(img, size=(224, 224), mode="bilinear", align_corners=False)
    model = mobilenet_v2(pretrained=True)
    with torch.no_grad():
        logits = model(ImageNetNormalize()(img))
    top5 = logits.topk(5).indices[0].tolist()
    assert any(281 <= c <= 285 for c in top5), top5


def test_tampered_checkpoint_is_refused(tmp_path):
    src = ensure_weights(MOBILENET_V2)
    bad = tmp_path / MOBILENET_V2.filename
    data = bytearray(src.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        ensure_weights(MOBILENET_V2, directory=tmp_path)
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_checked_state_dict(bad, MOBILENET_V2.sha256)


def test_pickle_with_code_is_refused(tmp_path):
    """A checkpoint that carries code is not executed: weights-only loading refuses it."""

    class Evil:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path('%s').write_text('pwned')" % (tmp_path / "x"),))

    path = tmp_path / "evil.pth"
    torch.save({"w": Evil()}, path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checked_state_dict(path)
    assert not (tmp_path / "x").exists()
