"""One real device over SSH: compile here, push a bundle (modules, inputs, expected outputs, the
stdlib-only runner) and, when missing, IREE's runtime tools for the device's architecture; run,
verify and time there; bring the result back as an ordinary run record with the device's own
fingerprint; remove what was pushed for the run.

SSH is paramiko's: the device's host key must be known (``--known-hosts``, default
~/.ssh/known_hosts; an unknown or changed key is refused), and only key authentication is used
(``--ssh-key``, or the agent and the default keys); never a password.
"""
from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from suite.errors import UserError

TOOLS = ("iree-run-module", "iree-benchmark-module")


@dataclass(frozen=True)
class SshDevice:
    user: str
    host: str
    port: int

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def parse(url: str) -> SshDevice:
    """ssh://user@host[:port] -> SshDevice, or one clear line."""
    u = urlparse(url)
    if u.scheme != "ssh" or not u.hostname or not u.username or u.password or u.path not in ("", "/"):
        raise UserError(f"--runner: {url!r} is not ssh://user@host[:port] (no password, no path)")
    try:
        port = u.port or 22
    except ValueError:
        raise UserError(f"--runner: {url!r} has an invalid port") from None
    return SshDevice(u.username, u.hostname, port)


def _connect(dev: SshDevice, key: Path | None, known_hosts: Path | None, timeout: float = 15.0):
    import paramiko
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())       # host keys are checked, never trusted blindly
    hosts = known_hosts or Path.home() / ".ssh" / "known_hosts"
    try:
        client.load_host_keys(str(hosts))
    except OSError:
        raise UserError(f"cannot read the known hosts file {hosts}: the device's host key must be known") from None
    try:
        client.connect(dev.host, dev.port, dev.user, key_filename=str(key) if key else None, timeout=timeout,
                       banner_timeout=timeout, auth_timeout=timeout, allow_agent=key is None,
                       look_for_keys=key is None, password=None)
    except paramiko.SSHException as e:
        client.close()
        raise UserError(f"ssh {dev.label}: {type(e).__name__}: {e or 'refused'} (host key and key authentication "
                        "only; no password)") from None
    except OSError as e:
        client.close()
        raise UserError(f"ssh {dev.label}: cannot connect: {e.strerror or e}") from None
    return client


def _exec(client, command: str, timeout: float) -> tuple[int, str, str]:
    _, out, err = client.exec_command(command, timeout=timeout)
    code = out.channel.recv_exit_status()
    return code, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def _arch_of(target: str) -> str:
    import platform
    return {"llvm-cpu": platform.machine(), "aarch64-a72": "aarch64", "riscv64": "riscv64"}.get(target, "?")


def local_tools(target: str) -> Path:
    """IREE's runtime tools for the target's architecture, here: this host's, or the unpacked aarch64 ones."""
    if target == "llvm-cpu":
        from targets.iree_tools import runtime_tool
        return Path(runtime_tool("iree-run-module")).parent
    from targets.edge import QEMU, tools_dir
    if target in QEMU:
        path = tools_dir(target)
        if (path / TOOLS[0]).is_file():
            return path
        raise UserError(f"IREE's {target} runtime is not here to push ({path}): run scripts/install.sh --edge")
    raise UserError(f"no IREE runtime tools for target {target!r} to push to a device")


def run_over_ssh(plan, url: str, key: Path | None, known_hosts: Path | None, storage,
                 say=lambda text: None, resume: tuple[dict, Path | None] | None = None) -> tuple[dict, Path | None]:
    """The plan's workloads compiled here, run on the device; returns the run record and where it is
    stored. Each finished workload comes back as it finishes and is saved at once, so a connection
    that drops leaves a valid incomplete record; ``resume`` (that record and its path) runs only what
    it lacks, after removing what the cut-short run left on the device."""
    from suite.bundle import make_bundle
    from suite.cache import CompileCache
    from suite.selection import check_target
    from targets.iree_tools import versions
    dev = parse(url)
    target, device = check_target(plan.target, plan.device, plan.threads)
    tools_here = local_tools(target.name)
    record, path = resume or (None, None)
    done = {w["id"] for w in record["workloads"]} if record else set()
    todo = [w for w in plan.workloads() if w.id not in done]
    client = _connect(dev, key, known_hosts)                     # unreachable or refused: before any compile
    try:
        if record and record["settings"].get("remote", {}).get("folder"):
            _remove_run(client, record["settings"]["remote"]["folder"])
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "bundle"
            say(f"compiling {len(todo)} workloads for {target.name}")
            out = make_bundle(todo, target, device, bundle, CompileCache(storage.cache_dir), plan.seed,
                              plan.presets[0])
            for f in out["failures"]:
                say(f"[yellow]not bundled[/] {f}")
            remote, arch, home = _work_folder(client, dev)
            try:
                want = _arch_of(target.name)
                if arch != want:
                    raise UserError(f"ssh {dev.label} is an {arch} machine; target {target.name} builds {want} code "
                                    f"(choose --target {'aarch64-a72' if arch == 'aarch64' else 'llvm-cpu'})")
                sftp = client.open_sftp()
                tools = _tools_on_device(client, sftp, tools_here, versions().get("iree-base-runtime", "?"), arch,
                                         target.name, home, say)
                say(f"pushing the bundle to {dev.label}:{remote}")
                _put_tree(sftp, bundle, remote)
                record, path = _start_record(client, dev, url, plan, storage, out["manifest"], remote, tools,
                                             key, known_hosts, record, path)
                say(f"running on {dev.label}")
                _stream_rows(client, dev, plan, remote, tools, out["manifest"], record, path)
            except BaseException:
                if client.get_transport() and client.get_transport().is_active():
                    _remove_run(client, remote)
                raise
            _remove_run(client, remote)                          # the run's files; the tools stay cached
    finally:
        client.close()
    from suite.verdict import record_verdict
    record["complete"] = True
    record["settings"]["remote"]["folder"] = None
    record["verdict"] = record_verdict(record)
    _save(record, path, storage)
    return record, path


def _work_folder(client, dev: SshDevice) -> tuple[str, str, str]:
    code, said, err = _exec(client, 'mktemp -d /tmp/upsampling-suite.XXXXXX && uname -m && echo "$HOME"', 30)
    if code != 0:
        raise UserError(f"ssh {dev.label}: cannot make a work folder: {err.strip()[:200]}")
    remote, arch, home = said.split()
    return remote, arch, home


def _remove_run(client, remote: str) -> None:
    """A run's folder on the device, and its runner if it is still going (a dropped connection does
    not stop it)."""
    runner = shlex.quote(f"{remote}/[r]un_bundle.py")        # [r]: the pattern must not match this shell itself
    _exec(client, f"pkill -f {runner} ; rm -rf {shlex.quote(remote)}", 60)


def _start_record(client, dev, url, plan, storage, manifest, remote, tools, key, known_hosts, record, path):
    """The run's record, saved before the first row: new, or the resumed one."""
    from suite.bundle import device_record
    from suite.record import default_path
    code, said, err = _exec(client, f"python3 {shlex.quote(remote + '/run_bundle.py')} --describe "
                                    f"--tools {shlex.quote(tools)}", 60)
    if code != 0:
        raise UserError(f"ssh {dev.label}: cannot run python3 there: {(err.strip().splitlines() or ['?'])[-1][:200]}")
    import json
    about = json.loads(said)
    if record is None:
        record = device_record(manifest, about, manifest["device"], {"plan": plan.to_json()})
        record["target"].update({"runner": url, "device_host": dev.label})
        path = default_path(record, storage.results_dir) if storage.save else storage.json_path
    record["settings"]["remote"] = {"folder": remote, "ssh_key": str(key) if key else None,
                                    "known_hosts": str(known_hosts) if known_hosts else None}
    record["settings"].setdefault("bundles", []).append(manifest["bundle_id"])
    _save(record, path, storage)
    return record, path


def _stream_rows(client, dev, plan, remote, tools, manifest, record, path) -> None:
    """Run the bundle there; each `ROW` line the runner prints becomes a saved row here at once."""
    import json
    from suite.bundle import add_device_row
    cmd = (f"python3 {shlex.quote(remote + '/run_bundle.py')} --tools {shlex.quote(tools)} "
           f"--repetitions {plan.repetitions} --min-time {plan.min_time} -o {shlex.quote(remote + '/result.json')}")
    chan = client.get_transport().open_session()
    chan.set_combine_stderr(True)
    chan.settimeout(plan.run_timeout)                 # per line: one workload may take at most this long
    chan.exec_command(cmd)
    last, got = "", 0
    try:
        for line in chan.makefile("r"):
            if line.startswith("ROW "):
                add_device_row(record, manifest, json.loads(line[4:]))
                got += 1
                _save(record, path)
            elif line.strip():
                last = line.strip()
    except TimeoutError:
        chan.close()
        raise DeviceLost(f"ssh {dev.label}: no workload finished within --run-timeout {plan.run_timeout:g} s "
                         f"(after {got} of {len(manifest['workloads'])})", path) from None
    except (OSError, EOFError):                        # the connection gone mid-line
        pass
    code = chan.recv_exit_status()                     # -1: the channel closed without one (connection lost)
    alive = client.get_transport() is not None and client.get_transport().is_active()
    total = len(manifest["workloads"])
    if code == -1 or not alive:
        raise DeviceLost(f"ssh {dev.label}: the connection was lost after {got} of {total} workloads", path)
    if got < total:
        raise DeviceLost(f"ssh {dev.label}: the runner stopped (exit {code}) after {got} of {total} workloads: "
                         f"{last[:200]}", path)


class DeviceLost(UserError):
    """The device went away mid-run; the record at ``path`` keeps every finished row."""

    def __init__(self, message: str, path: Path | None):
        hint = f"; {path} keeps the finished workloads: finish with suite run --resume {path}" if path else ""
        super().__init__(message + hint)
        self.path = path


def _save(record: dict, path: Path | None, storage=None) -> None:
    from suite.record import write_record
    if path:
        write_record(record, path)
    if storage is not None and storage.json_path and Path(storage.json_path) != path:
        write_record(record, storage.json_path)


def _tools_on_device(client, sftp, tools_here: Path, version: str, arch: str, target: str, home: str, say) -> str:
    """The remote folder holding IREE's runtime tools (pushed once per version and architecture)."""
    folder = f"{home}/.cache/upsampling-suite/iree-runtime-{version}-{arch}"
    code, _, _ = _exec(client, " && ".join(f"test -x {shlex.quote(folder + '/' + t)}" for t in TOOLS), 30)
    if code == 0:
        return folder
    say(f"pushing IREE {version} runtime tools for {arch} ({target})")
    _exec(client, f"mkdir -p {shlex.quote(folder)}", 30)
    for t in TOOLS:
        try:
            sftp.put(str(tools_here / t), f"{folder}/{t}")
        except OSError as e:
            raise UserError(f"cannot push {t} to the device: {e.strerror or e} (no room on its disk?)") from None
        sftp.chmod(f"{folder}/{t}", 0o755)
    return folder


def _put_tree(sftp, local: Path, remote: str) -> None:
    for path in sorted(local.rglob("*")):
        dest = f"{remote}/{path.relative_to(local).as_posix()}"
        try:
            if path.is_dir():
                sftp.mkdir(dest)
            else:
                sftp.put(str(path), dest)
        except OSError as e:
            raise UserError(f"cannot push {path.name} to the device: {e.strerror or e} (no room on its disk?)") \
                from None
