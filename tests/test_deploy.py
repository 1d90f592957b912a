"""Deploy: every catalogue network transformed and verified; a hand-built network with both patterns,
functional calls, a bias and an untransformable layer; a saved state_dict loaded and deployed."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from suite.cli import main
from suite.errors import UserError
from suite.runner import Runner, RunOptions
from targets import get_target
from workloads.deploy import TORCH_ALGORITHMS, deploy
from workloads.networks import NETWORKS, build_network, network_workloads


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("alg", TORCH_ALGORITHMS)
def test_catalogue_networks_deploy_exactly(name, alg):
    net, x = build_network(name)
    d = deploy(net, x, alg)
    assert d.changes and not d.refused and d.max_abs_err < 1e-5
    assert all(c.algorithm == alg for c in d.changes)
    expected = {"espcn": 1, "fsrcnn": 1, "decoder": 3}[name]
    assert len(d.changes) == expected


class Mixed(nn.Module):
    """Both patterns, functional calls, biases, and two layers that must be left alone."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 8, 3, padding=1)
        self.sp_w = nn.Parameter(torch.randn(4 * 5, 8, 3, 3) * 0.1)
        self.sp_b = nn.Parameter(torch.randn(4 * 5) * 0.1)
        self.nn_conv = nn.Conv2d(5, 4, 3, padding=1)
        self.bl_conv = nn.Conv2d(4, 4, 3, padding=1)
        self.strided = nn.Conv2d(4, 4 * 4, 3, padding=1, stride=1, groups=2)

    def forward(self, x):
        x = F.relu(self.head(x))
        x = F.pixel_shuffle(F.conv2d(x, self.sp_w, self.sp_b, padding=1), 2)          # functional sub-pixel
        x = self.nn_conv(F.interpolate(x, scale_factor=2, mode="nearest"))            # functional nearest resize
        x = self.bl_conv(F.interpolate(x, scale_factor=2, mode="bilinear"))           # bilinear: not exact
        return F.pixel_shuffle(self.strided(x), 2)                                      # grouped conv: not exact


def test_hand_built_network_transforms_what_is_exact_and_explains_the_rest():
    net, x = Mixed().eval(), torch.randn(2, 3, 6, 5)
    d = deploy(net, x, "STDD")
    assert [c.pattern for c in d.changes] == ["sub-pixel", "nearest resize"]
    reasons = " | ".join(r.reason for r in d.refused)
    assert "bilinear resize has no exact deconvolution" in reasons and "grouped" in reasons
    assert d.max_abs_err < 1e-5
    with torch.no_grad():
        torch.testing.assert_close(d.module(x), net(x), rtol=0, atol=1e-5)


def test_per_layer_algorithms():
    net, x = build_network("decoder")
    d = deploy(net, x, {"stages_1_1": "TDC", "stages_2_1": "STRD"})
    assert [c.algorithm for c in d.changes] == ["REVD", "TDC", "STRD"]


def test_refuses_a_non_integer_scale_and_an_unknown_algorithm():
    class Frac(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            return self.c(F.interpolate(x, scale_factor=1.5, mode="nearest"))
    d = deploy(Frac().eval(), torch.randn(1, 2, 4, 4))
    assert not d.changes and "not one integer" in d.refused[0].reason
    with pytest.raises(UserError, match="no torch form"):
        deploy(Frac().eval(), torch.randn(1, 2, 4, 4), "REVD2")


def test_saved_state_dict_is_loaded_and_deployed(tmp_path, capsys):
    net, _ = build_network("espcn", seed=7)
    torch.save(net.state_dict(), tmp_path / "espcn.pt")
    assert main(["deploy", "-n", "espcn", "--state-dict", str(tmp_path / "espcn.pt"), "-a", "TDC",
                 "--mlir", str(tmp_path / "espcn.mlir")]) == 0
    out = capsys.readouterr().out
    assert "conv4 -> pixel_shuffle" in out and "sub-pixel" in out and "verified" in out
    assert "torch.aten.convolution" in (tmp_path / "espcn.mlir").read_text() or \
        "torch.aten.conv2d" in (tmp_path / "espcn.mlir").read_text()
    torch.save({"nonsense": torch.zeros(1)}, tmp_path / "bad.pt")
    assert main(["deploy", "-n", "espcn", "--state-dict", str(tmp_path / "bad.pt")]) == 2
    assert "does not fit the ESPCN architecture" in capsys.readouterr().err


def test_networks_run_through_iree_verified(cache):
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-task", verify_only=True), cache)
    results = runner.run(network_workloads(["decoder"], ["TDC", "REVD"]))
    assert [(r.method, r.algorithm, r.status) for r in results] == [
        ("trained", None, "ok"), ("deployed", "TDC", "ok"), ("deployed", "REVD", "ok")]


def test_network_model_counts_by_hand():
    from workloads.counts import counts
    from workloads.network_model import network_counts
    net, x = build_network("espcn")
    hw = 160 * 240
    convs = (64 * 1 * 25 + 64 * 64 * 9 + 32 * 64 * 9 + 9 * 32 * 9) * hw
    assert network_counts(net, x).macs == convs
    d = deploy(net, x, "TDC")
    (change,) = d.changes
    deployed = network_counts(d.module, x)
    layer, method, alg = d.module.get_submodule("deployed_pixel_shuffle").model_key
    assert (layer.cin, layer.cout, layer.k, layer.r, method, alg) == (32, 1, 3, 3, "D-SP", "TDC")
    assert deployed.macs == convs - 9 * 32 * 9 * hw + counts(layer, method, alg).macs
