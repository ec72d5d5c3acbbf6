"""Ranks on two hosts: two network namespaces joined by a veth pair, on private addresses set up here.

The test makes the namespaces itself (root and iproute2 needed; skipped with the reason otherwise),
starts MPICH's mpiexec in the first with a launcher that runs the second rank's proxy inside the
second namespace (in place of ssh), and forces MPI's traffic onto TCP, so that the all-reduces
really cross the link: its byte counters are checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import common
import numpy as np
import pytest
from harness import RANKS, load, mpiexec_path

ADDRS = ("10.213.13.1", "10.213.13.2")  # only inside the test's own namespaces


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def two_hosts():
    """Two namespaces with a veth pair between them; yields (names, interfaces); always removed."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2's `ip` is not installed")
    if os.geteuid() != 0:
        pytest.skip("creating network namespaces needs root")
    tag = f"fl{os.getpid() % 100000}"
    ns, veth = (f"{tag}a", f"{tag}b"), (f"{tag}va", f"{tag}vb")
    made = []
    try:
        for n in ns:
            r = _ip("netns", "add", n)
            if r.returncode:
                pytest.skip(f"cannot create a network namespace here: {r.stderr.strip()}")
            made.append(n)
        steps = [
            ("link", "add", veth[0], "type", "veth", "peer", "name", veth[1]),
            *[("link", "set", veth[k], "netns", ns[k]) for k in (0, 1)],
            *[("-n", ns[k], "addr", "add", f"{ADDRS[k]}/24", "dev", veth[k]) for k in (0, 1)],
            *[("-n", ns[k], "link", "set", dev, "up") for k in (0, 1) for dev in (veth[k], "lo")],
        ]
        for s in steps:
            r = _ip(*s)
            if r.returncode:
                pytest.skip(f"cannot set up the veth link (`ip {' '.join(s)}`): {r.stderr.strip()}")
        yield ns, veth
    finally:
        for n in made:
            _ip("netns", "del", n)


def _rx_bytes(ns: str, dev: str) -> int:
    return int(
        subprocess.run(
            ["ip", "netns", "exec", ns, "cat", f"/sys/class/net/{dev}/statistics/rx_bytes"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_ranks_in_separate_network_namespaces_train_together(two_hosts, tmp_path):
    exe = mpiexec_path()
    if exe is None:
        pytest.skip("no mpiexec: pip install mpich")
    if "HYDRA" not in subprocess.run([exe, "--version"], capture_output=True, text=True).stdout:
        pytest.skip("the launcher of this test is written for MPICH's mpiexec (hydra)")
    ns, veth = two_hosts
    # hydra calls its launcher as `LAUNCHER [-x] HOST COMMAND...`; ours enters the host's namespace.
    launcher = tmp_path / "netns-launcher"
    launcher.write_text(
        "#!/bin/sh\n"
        'while [ "${1#-}" != "$1" ]; do shift; done\n'
        "host=$1; shift\n"
        f'case $host in {ADDRS[0]}) ns={ns[0]};; {ADDRS[1]}) ns={ns[1]};; *) echo "unknown host $host" >&2; exit 1;; esac\n'
        'exec ip netns exec "$ns" sh -c "$*"\n'
    )
    launcher.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(RANKS), os.environ.get("PYTHONPATH", "")]))
    before = _rx_bytes(ns[1], veth[1])
    cmd = [
        "ip", "netns", "exec", ns[0], exe,
        "-launcher", "ssh", "-launcher-exec", str(launcher), "-iface", veth[0],
        "-hosts", ",".join(ADDRS), "-n", "2", "-ppn", "1",
        "-genv", "UCX_TLS", "tcp,self", "-genv", "FI_PROVIDER", "tcp",  # no shared memory between the hosts
        sys.executable, str(RANKS / "netns_job.py"), str(tmp_path),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    moved = _rx_bytes(ns[1], veth[1]) - before

    spaces = set()
    for r in range(2):
        with np.load(tmp_path / f"rank{r}.npz") as f:
            spaces.add(str(f["netns"]))
            assert f["big"].tolist() == [3.0] * 4
    assert len(spaces) == 2  # the ranks really ran in two namespaces
    assert moved > (1 << 19) * 8 // 2, f"only {moved} bytes crossed the link"  # at least half the 4 MiB

    want = common.train(0, 1, 24, "sgd")
    for r in range(2):
        got = load(tmp_path, r)
        for g, w in zip(got, want, strict=True):
            for k in w:
                np.testing.assert_allclose(g[k], w[k], rtol=0, atol=1e-12)
