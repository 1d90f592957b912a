"""Peer runtimes beside IREE, for real: eager (NCHW, channels_last), ONNX Runtime and ExecuTorch
with XNNPACK each verify every method on a tiny layer and are timed; a missing peer says why; a
peer computing the wrong thing is caught before it is timed."""
import importlib.metadata

import pytest
import torch

from suite.cli import main
from suite.peers import measure, peer_module
from suite.record import load_record
from targets.peers import PEERS, Peer, resolve
from workloads.layer import LayerConfig
from workloads.methods import make_input, trained_layer

LAYER = LayerConfig(cin=4, cout=2, h=6, w=7, k=3, r=2, name="peer-tiny")
INSTALLED = [p for p in PEERS.values() if p.availability().usable]


@pytest.mark.parametrize("peer", INSTALLED, ids=lambda p: p.name)
@pytest.mark.parametrize("method", ["C-SP", "C-NN", "D-SP", "D-NN"])
def test_each_installed_peer_verifies_and_times_each_method(peer, method):
    x = make_input(LAYER, 0)
    with torch.no_grad():
        ref = trained_layer(LAYER, {"D-SP": "C-SP", "D-NN": "C-NN"}.get(method, method), 0)(x).numpy()
    out = measure(peer, peer_module(LAYER, method, 0), x, ref, 1, 9, 0.001, 0.001)
    assert out["status"] == "ok", out
    assert out["max_abs_err"] <= out["tolerance"] and len(out["samples_ms"]) == 9
    assert all(s > 0 for s in out["samples_ms"]) and all(n >= 1 for n in out["iterations"])


def test_all_four_peers_are_installed_here():
    """scripts/install.sh installs them; on this project's machines none may silently go missing."""
    assert {p.name for p in INSTALLED} == set(PEERS), {p.name: p.availability().reason for p in PEERS.values()}


@pytest.mark.parametrize("peer", INSTALLED, ids=lambda p: p.name)
def test_a_wrong_weight_is_caught_and_never_timed(peer):
    x = make_input(LAYER, 0)
    with torch.no_grad():
        ref = trained_layer(LAYER, "C-SP", 0)(x).numpy()
    wrong = peer_module(LAYER, "D-SP", 0)
    with torch.no_grad():
        for p in wrong.parameters():
            p.add_(0.5)
        for b in wrong.buffers():
            if b.is_floating_point():
                b.add_(0.5)
    out = measure(peer, wrong, x, ref, 1, 9, 0.001, 0.001)
    assert out["status"] == "wrong" and "exceeds tolerance" in out["reason"] and out["samples_ms"] == []


def test_a_peer_that_is_not_installed_gives_its_reason():
    ghost = Peer("ghost", "not a runtime", "eager", ("no-such-distribution-xyz",), "")
    a = ghost.availability()
    assert not a.usable and "no-such-distribution-xyz is not installed" in a.reason
    with pytest.raises(Exception, match="unknown peer runtime 'tvm'"):
        resolve("tvm")


def test_a_run_stores_peers_as_rows_and_compares_the_claim_per_runtime(tmp_path, capsys, shared_cache_dir):
    out = tmp_path / "r.json"
    assert main(["run", "--layer", "cin=4,cout=2,h=6,w=7,k=3,r=2,name=peer-tiny", "-m", "C-SP,D-SP", "-a", "TDCF",
                 "--tune", "none", "--profile", "none", "--repetitions", "9", "--min-time", "0.001",
                 "--peers", "eager,onnxruntime", "--cache-dir", str(shared_cache_dir), "--no-save",
                 "--json", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    rec = load_record(out)
    peers = [w for w in rec["workloads"] if w.get("runtime")]
    assert sorted((w["method"], w["runtime"]) for w in peers) == [
        ("C-SP", "eager"), ("C-SP", "onnxruntime"), ("D-SP", "eager"), ("D-SP", "onnxruntime")]
    assert all(w["status"] == "ok" and w["runtime_version"].startswith(("torch", "onnxruntime")) for w in peers)
    assert rec["peers"]["onnxruntime"]["used"] and "ORT_ENABLE_ALL" in rec["peers"]["onnxruntime"]["settings"]
    assert "vs best peer" in text and "the claim in each runtime" in text
    assert [v["deployed"] for v in rec["verdict"]["layers"]] == ["D-SP"]       # the verdict is IREE's rows
    assert importlib.metadata.version("onnxruntime") in peers[1]["runtime_version"] + peers[3]["runtime_version"]
    # IREE and the peers were timed in alternating rounds, each with the run's repetitions in all
    assert rec["settings"]["rounds"]["peers"] == ["eager", "onnxruntime"]
    # two rounds of its 9 samples; a row whose rounds disagreed took a third of 3 (suite.rounds.RETAKES)
    assert all(w["rounds"] in ([5, 4], [5, 4, 3]) and len(w["samples_ms"]) == sum(w["rounds"])
               for w in rec["workloads"])
    iree = [w for w in rec["workloads"] if not w.get("runtime")]
    # the recorded command takes the row's samples in one process (its rounds are in "rounds")
    assert all(f"--benchmark_repetitions={len(w['samples_ms'])}" in w["commands"]["time"] for w in iree)


def test_rounds_alternate_method_by_method_iree_first_and_a_failing_side_stops_alone():
    from suite.rounds import Side, alternate, order, split
    assert split(10) == [5, 5] and split(9, 3) == [3, 3, 3] and split(2) == [1, 1] and split(1) == [1]
    calls = []

    def side(method, iree, fail_at=None):
        def take(k):
            calls.append((method, iree, k))
            if fail_at is not None and len([c for c in calls if c[:2] == (method, iree)]) == fail_at:
                raise RuntimeError("gone")
            return [1.0] * k, [1] * k, "cmd"
        return Side(method, take, iree)
    sides = order([side("D-SP", False, fail_at=2), side("C-SP", False), side("D-SP", True), side("C-SP", True)],
                  ["C-SP", "D-SP"])
    alternate(sides, 9, rounds=3)
    assert calls[:4] == [("C-SP", True, 3), ("C-SP", False, 3), ("D-SP", True, 3), ("D-SP", False, 3)]
    assert [len(s.samples) for s in sides] == [9, 9, 9, 3] and str(sides[3].failed) == "gone"
    assert len(calls) == 3 * 4 - 1                      # the failed side is not asked again


def test_a_row_whose_rounds_disagree_takes_one_more_round_and_no_more():
    """A slow phase of the machine in one round (3x here) splits the row; it takes one more round
    at the end, so that the phase is one round of four, even where it has spent its time (max_time:
    a phase can make a fast row look slow). Rows that agree take none."""
    from suite.rounds import RETAKES, Side, alternate
    assert RETAKES == 1

    def side(name, per_round_ms, calls=1):
        got = []

        def take(k):
            got.append(k)
            return [per_round_ms[min(len(got), len(per_round_ms)) - 1]] * k, [calls] * k, "cmd"
        return Side(name, take)
    split_ = side("phase in round 2", [1.0, 3.0, 1.0, 3.0])
    twice = side("phase in round 2 and its retake", [1.0, 3.0, 3.0, 1.0])   # still one retake only
    steady = side("steady", [1.0, 1.1, 0.95])
    spent = side("slow calls", [400.0, 1200.0, 400.0])          # split, and past max_time
    steady_slow = side("steady slow calls", [400.0, 410.0, 400.0])
    alternate([split_, twice, steady, spent, steady_slow], 10, max_time_s=1.0)
    assert split_.rounds == [5, 5, 3] and split_.disagrees and twice.rounds == [5, 5, 3]
    assert steady.rounds == [5, 5] and not steady.disagrees
    assert spent.rounds == [5, 1, 3] and steady_slow.rounds == [5, 1]
    assert sorted(split_.samples)[len(split_.samples) // 2] == 1.0       # the median is off the phase
    from suite.stats import settle
    kept, out = settle(twice.samples, twice.rounds, 1.3)
    assert out == [1, 2] and set(kept) == {1.0}                          # and the slow retake left out


def test_a_row_of_slow_calls_stops_at_five_samples_once_its_time_is_spent_and_fast_rows_take_all():
    """asv's repeat = (min, max, max_time): within 1 s a row takes every sample; past it, only
    what brings it to 5. Its samples stay whole samples, taken in the same rounds."""
    from suite.rounds import Side, allowance, alternate
    asked = {}

    def side(name, ms, calls_per_sample):
        def take(k):
            asked.setdefault(name, []).append(k)
            return [ms] * k, [calls_per_sample] * k, "cmd"
        return Side(name, take)
    slow, fast, middle = side("slow", 1000.0, 1), side("fast", 10.0, 8), side("middle", 150.0, 1)
    alternate([slow, fast, middle], 10, max_time_s=1.0)
    # and, its call time unknown, a row takes one sample or more in each round after its first
    assert asked == {"slow": [5, 1], "fast": [5, 5], "middle": [5, 1]}
    assert [len(s.samples) for s in (slow, fast, middle)] == [6, 10, 6]
    assert allowance(3, 0, 0.0, 1.0) == 3 and allowance(3, 4, 4.0, None) == 3     # no time limit: every sample
    assert allowance(3, 7, 9.0, 1.0) == 0                                           # has its 5, and its time


def test_a_row_whose_call_time_is_known_plans_its_rounds_and_a_slow_phase_cannot_cut_it_to_one():
    """sweep-r2's D-NN STDD on 2026-12-05: 0.5 ms calls ran at 2 ms through their first round, which
    then spent the row's second, and the row kept that round alone. Planned from the call time the
    tuner knows, the row takes both rounds, they disagree, and it is retaken."""
    from suite.rounds import Side, alternate, planned
    assert planned(10.0, 0.05, 10, 1.0) == [5, 5]
    assert planned(144.0, 0.05, 10, 1.0) == [3, 3] and planned(900.0, 0.05, 10, 1.0) == [3, 2]
    assert planned(0.5, 0.05, 10, None) == [5, 5] and planned(None, 0.05, 10, 1.0) is None
    got = []

    def take(k):                                        # 100 calls a sample; the first round in a 4x phase
        got.append(k)
        return [2.0 if len(got) == 1 else 0.5] * k, [100] * k, "cmd"
    phase = Side("D-NN", take, plan=planned(0.5, 0.05, 10, 1.0))
    alternate([phase], 10, max_time_s=1.0)
    assert got == [5, 5, 3] and phase.rounds == [5, 5, 3]
    from suite.stats import settle
    kept, out = settle(phase.samples, phase.rounds, 1.3)
    assert out == [0] and set(kept) == {0.5}


def test_a_peer_process_that_dies_is_one_reason_on_its_rows_and_the_next_layer_gets_a_new_one(tmp_path):
    import dataclasses
    from suite.peers import PeerPool, PeerSession, layer_subject
    from suite.runner import RunOptions
    from targets import get_target
    pool = PeerPool(RunOptions(get_target("llvm-cpu"), "local-task", min_time_s=0.001))
    try:
        session = PeerSession(PEERS["eager"], layer_subject(LAYER), ["C-SP", "D-SP"], pool.get(PEERS["eager"]), 60).wait()
        assert session.ready("C-SP") and session.ready("D-SP")
        samples, iterations = session.sample("C-SP", 2)
        assert len(samples) == len(iterations) == 2
        dead = session.process
        dead.proc.kill()
        with pytest.raises(RuntimeError, match="died"):
            session.sample("D-SP", 2)
        row = session.result("D-SP", [], [], "the peer's process died")
        assert row.status == "time-failed" and row.runtime == "eager" and not row.samples_ms
        # the run's next layer: a fresh process, and its rows are whole
        other = dataclasses.replace(LAYER, name="next", h=LAYER.h + 1)
        again = PeerSession(PEERS["eager"], layer_subject(other), ["C-SP"], pool.get(PEERS["eager"]), 60).wait()
        assert again.process is not dead and again.ready("C-SP") and len(again.sample("C-SP", 2)[0]) == 2
    finally:
        pool.close()


def test_networks_and_onnx_models_run_in_the_peers_as_trained_and_deployed():
    """A whole network in a peer: as trained, and deployed with its upsampling in the runtime's own
    transposed convolution. An ONNX model runs as it is in onnxruntime; a torch-only runtime refuses
    it with the reason."""
    from suite.peers import PeerPool, PeerSession, network_subject
    from suite.runner import RunOptions
    from targets import get_target
    from workloads.networks import NetworkWorkload
    from workloads.onnx_models import network_workloads
    opts = RunOptions(get_target("llvm-cpu"), "local-task", min_time_s=0.001)
    onnx_model = network_subject(network_workloads("espcn-bsd300", ["TDCF"])[0])
    cases = [(PEERS["onnxruntime"], network_subject(NetworkWorkload("decoder", "trained")), "ok"),
             (PEERS["onnxruntime"], onnx_model, "ok"), (PEERS["eager"], onnx_model, "refused")]
    pool = PeerPool(opts)                   # one process per peer for every subject, as in a run
    try:
        for peer, subject, expect in cases:
            session = PeerSession(peer, subject, ["trained", "deployed"], pool.get(peer), 180).wait()
            for method in ("trained", "deployed"):
                if expect == "ok":
                    assert session.ready(method), session.rows
                    samples, iterations = session.sample(method, 2)
                    row = session.result(method, samples, iterations)
                    assert row.status == "ok" and len(row.samples_ms) == 2 and row.reference == "trained"
                    assert row.max_abs_err <= row.tolerance
                else:
                    row = session.result(method, [], [])
                    assert row.status == "refused" and "no torch form" in row.reason
                assert row.id == f"{subject.id}/{method}@{peer.name}" and row.layer == subject.id
            if peer.name == "onnxruntime" and subject is onnx_model:
                assert "ConvTranspose" in session.rows["deployed"]["note"]     # its native deconvolution
        assert len(pool.processes) == 2    # onnxruntime served both of its subjects from one process
    finally:
        pool.close()


def test_executorch_programs_are_cached_verified_on_every_run_and_rebuilt_when_corrupt(tmp_path):
    """ExecuTorch's export takes about a second per method: a second run loads the stored program,
    and still verifies it; a corrupt stored program is built again, never loaded."""
    from suite.peers import PeerPool, PeerSession, layer_subject
    from suite.runner import RunOptions
    from targets import get_target
    peer = PEERS["executorch-xnnpack"]
    opts = RunOptions(get_target("llvm-cpu"), "local-task", min_time_s=0.001)

    def rows():
        pool = PeerPool(opts, tmp_path)
        try:
            s = PeerSession(peer, layer_subject(LAYER), ["C-SP", "D-SP"], pool.get(peer), 180).wait()
            assert s.ready("C-SP") and s.ready("D-SP"), s.rows
            return {m: s.result(m, *s.sample(m, 2)) for m in ("C-SP", "D-SP")}
        finally:
            pool.close()
    first = rows()
    programs = sorted((tmp_path / "peers").glob("*.bin"))
    assert len(programs) == 2 and not any(r.compile_cached for r in first.values())
    second = rows()
    assert all(r.compile_cached and r.status == "ok" and r.max_abs_err <= r.tolerance for r in second.values())
    assert second["D-SP"].runtime_note == first["D-SP"].runtime_note
    programs[0].write_bytes(programs[0].read_bytes()[:100])            # a torn write
    third = rows()
    assert sorted(r.compile_cached for r in third.values()) == [False, True]
    assert all(r.status == "ok" for r in third.values()) and len(programs[0].read_bytes()) > 100
