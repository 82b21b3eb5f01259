"""The Meta-SGD inner loop: values by hand, gradients through the step, first-order option."""

import pytest
import torch
from torch import nn

from metatrack.meta import MetaSGD, adapt


def quad_loss(target):
    return lambda p: ((p["w"] - target) ** 2).sum()


def test_one_step_by_hand():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    alpha = torch.tensor([0.1, 0.25], requires_grad=True)
    out = adapt({"w": w}, {"w": alpha}, quad_loss(torch.zeros(2)), steps=1)
    # grad = 2 w = [2, 4]; w1 = w - alpha * grad = [0.8, 1.0]
    assert out["w"].tolist() == pytest.approx([0.8, 1.0])


def test_meta_gradient_is_second_order_by_default():
    """L_future(w1) with w1 = w - a * 2 (w - t): dL/dw = 2 (w1 - u) (1 - 2a) exactly."""
    t, u = torch.tensor([1.0]), torch.tensor([3.0])
    w = torch.tensor([2.0], requires_grad=True)
    a = torch.tensor([0.1], requires_grad=True)
    w1 = adapt({"w": w}, {"w": a}, quad_loss(t), steps=1)["w"]
    ((w1 - u) ** 2).sum().backward()
    w1v = 2.0 - 0.1 * 2 * (2.0 - 1.0)
    assert w.grad.item() == pytest.approx(2 * (w1v - 3.0) * (1 - 2 * 0.1))
    assert a.grad.item() == pytest.approx(2 * (w1v - 3.0) * (-2 * (2.0 - 1.0)))


def test_first_order_drops_the_hessian_term():
    t, u = torch.tensor([1.0]), torch.tensor([3.0])
    w = torch.tensor([2.0], requires_grad=True)
    a = torch.tensor([0.1], requires_grad=True)
    w1 = adapt({"w": w}, {"w": a}, quad_loss(t), steps=1, first_order=True)["w"]
    ((w1 - u) ** 2).sum().backward()
    w1v = 2.0 - 0.1 * 2 * (2.0 - 1.0)
    assert w.grad.item() == pytest.approx(2 * (w1v - 3.0))  # no (1 - 2a) factor


def test_steps_compose_and_unlisted_params_pass_through():
    w = torch.tensor([1.0])
    b = torch.tensor([5.0])
    out = adapt({"w": w, "b": b}, {"w": 0.25}, lambda p: ((p["w"]) ** 2).sum() + p["b"].sum(), steps=3,
                create_graph=False)
    # each step multiplies w by (1 - 2 * 0.25) = 0.5
    assert out["w"].item() == pytest.approx(0.125)
    assert out["b"] is b or out["b"].item() == 5.0
    assert not out["w"].requires_grad


def test_metasgd_holds_alpha_per_parameter_and_calls_module_functionally():
    head = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    learner = MetaSGD(head, alpha_init=0.01, adapted=["2.weight", "2.bias"])
    assert set(learner.alphas()) == {"2.weight", "2.bias"}
    assert learner.alphas()["2.weight"].shape == head[2].weight.shape
    assert torch.all(learner.alphas()["2.bias"] == 0.01)
    x = torch.randn(4, 3)
    params = learner.theta0()
    params["2.bias"] = params["2.bias"] + 1.0
    assert torch.allclose(learner.forward_with(params, x), head(x) + 1.0)
    with pytest.raises(ValueError, match="no such parameters"):
        MetaSGD(head, 0.1, adapted=["nope"])


def test_tracking_step_matches_manual_update():
    head = nn.Linear(3, 1)
    learner = MetaSGD(head, alpha_init=0.05)
    x, y = torch.randn(8, 3), torch.randn(8, 1)

    def loss(p):
        return ((learner.forward_with(p, x) - y) ** 2).mean()

    out = adapt(learner.theta0(), learner.alphas(), loss, 1, create_graph=False)
    g = torch.autograd.grad(loss(learner.theta0()), [head.weight])[0]
    assert torch.allclose(out["weight"], head.weight - 0.05 * g)
