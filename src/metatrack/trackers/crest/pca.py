"""CREST's channel reduction: PCA of the first frame's features, as a fixed 1x1 convolution."""

from __future__ import annotations

import torch


def fit_pca_reduction(features: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Project (1, C, M, N) features on their ``channels`` leading principal components.

    Every cell is a sample. Returns the 1x1 convolution ``(weight (k, C, 1, 1), bias (k,))`` that
    computes ``V^T (x - mean)``, with ``k = min(channels, C)``. The covariance is C x C, so an exact
    symmetric eigendecomposition is cheaper than a randomised SVD and needs no seed.
    """
    x = features.detach().flatten(2)[0].T.double()  # (cells, C)
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / max(len(xc) - 1, 1)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    k = min(int(channels), x.shape[1])
    v = vecs[:, -k:].flip(1)  # (C, k), leading component first
    weight = v.T.float().contiguous()
    bias = -(weight.double() @ mean).float()
    return weight[:, :, None, None].to(features.device), bias.to(features.device)
