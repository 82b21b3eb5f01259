"""MDNet's own backbone, VGG-M conv1-3, from a user's MatConvNet ``imagenet-vgg-m.mat``.

The file cannot be had offline here, so it is optional: users who have it select it with
``backbone: vggm`` and ``vggm_path``. The layers and the reading follow pyMDNet
(``MDNet.load_learnable_params_from_matfile``): conv layers sit at indices 0, 4 and 8 of
``mat['layers'][0]`` and hold MatConvNet weights of shape (h, w, in, out) plus a bias.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import CheckpointError

#: (name, kernel, in channels, out channels, stride) of conv1..conv3, as in pyMDNet
VGGM_CONVS = (("conv1", 7, 3, 96, 2), ("conv2", 5, 96, 256, 2), ("conv3", 3, 256, 512, 1))
#: image value subtracted before conv1 (pyMDNet's RegionExtractor: ``regions - 128``)
VGGM_MEAN = 128.0
#: the centre of feature cell 0 in continuous image coordinates: cell i sits at 16 i + 37.5
VGGM_FIRST_CENTRE = 37.5


def vggm_conv123() -> nn.Sequential:
    """VGG-M conv1-3 with pyMDNet's ReLU, LRN and max-pooling (stride 16, 512 channels, no padding)."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for name, k, cin, cout, stride in VGGM_CONVS:
        block: list[nn.Module] = [nn.Conv2d(cin, cout, kernel_size=k, stride=stride), nn.ReLU()]
        if name != "conv3":
            block += [nn.LocalResponseNorm(2), nn.MaxPool2d(kernel_size=3, stride=2)]
        layers[name] = nn.Sequential(*block)
    return nn.Sequential(layers)


def load_vggm(path: str | Path) -> nn.Sequential:
    """VGG-M conv1-3 with the weights of a MatConvNet file; a wrong file is a CheckpointError."""
    import scipy.io

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: VGG-M weight file (imagenet-vgg-m.mat) is missing")
    try:
        mat = scipy.io.loadmat(str(p))
        mat_layers = list(mat["layers"])[0]
    except Exception as exc:  # scipy raises many kinds on a non-.mat file
        raise CheckpointError(f"{p}: not a MatConvNet model file with a 'layers' entry ({exc})") from None
    model = vggm_conv123()
    for i, (name, k, cin, cout, _) in enumerate(VGGM_CONVS):
        try:
            weight, bias = mat_layers[i * 4]["weights"].item()[0]
            weight = np.asarray(weight, dtype=np.float32)
            bias = np.asarray(bias, dtype=np.float32).reshape(-1)
        except Exception as exc:
            raise CheckpointError(f"{p}: layer {name} (index {i * 4}) has no weights/bias pair ({exc})") from None
        if weight.shape != (k, k, cin, cout) or bias.shape != (cout,):
            raise CheckpointError(
                f"{p}: layer {name} has weights {weight.shape} and bias {bias.shape}; "
                f"VGG-M needs {(k, k, cin, cout)} and ({cout},)"
            )
        conv = model[i][0]
        conv.weight.data = torch.from_numpy(np.ascontiguousarray(np.transpose(weight, (3, 2, 0, 1))))
        conv.bias.data = torch.from_numpy(bias.copy())
    return model.eval()
