"""The Slurm scripts on a real one-node Slurm cluster, started for these tests and stopped after.

The fixture writes a ``slurm.conf`` for this machine, starts ``munged``, ``slurmctld`` and
``slurmd``, and runs the scripts of ``slurm/`` against them: a split run submitted as a job
array with its collect job (``afterok``) gives the figures of a single run, byte for byte; a
cancelled task is named by ``--collect``, whose sbatch line reruns it. They need Debian's
``slurm-wlm`` and ``munge`` (``.ci/run`` installs them) and root, to start the daemons.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

import run_fmi

NEEDS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what} after {seconds} s")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    missing = [name for name in NEEDS if shutil.which(name) is None]
    if missing:
        pytest.skip(f"Slurm is not installed here ({', '.join(missing)} missing): apt-get install slurm-wlm munge")
    if os.geteuid() != 0:
        pytest.skip("starting a Slurm cluster for the tests needs root (its daemons run as root here)")
    if not Path("/etc/munge/munge.key").is_file():
        pytest.skip("munge has no key (/etc/munge/munge.key): reinstall munge")
    folder = tmp_path_factory.mktemp("slurm")
    host = socket.gethostname()
    for name in ("state", "spool", "log"):
        (folder / name).mkdir()
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=fmi-test", f"SlurmctldHost={host}", "SlurmUser=root", "AuthType=auth/munge",
        f"SlurmctldPort={free_port()}", f"SlurmdPort={free_port()}",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none", "MpiDefault=none",
        "SchedulerType=sched/backfill", "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
        "ReturnToService=2", "SlurmdTimeout=30", "InactiveLimit=0", "KillWait=5",
        f"NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""]))
    environment = {**os.environ, "SLURM_CONF": str(conf)}
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    munged = subprocess.run(["runuser", "-u", "munge", "--", "munged"], capture_output=True, text=True)
    daemons = [subprocess.Popen(["slurmctld", "-D", "-f", str(conf)], env=environment, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)]
    time.sleep(1)
    daemons.append(subprocess.Popen(["slurmd", "-D", "-f", str(conf)], env=environment, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL))

    def idle():
        done = subprocess.run(["sinfo", "-h", "-o", "%t"], env=environment, capture_output=True, text=True)
        return done.stdout.strip() in ("idle", "mix")

    try:
        wait_for(idle, 60, "the Slurm node to come up" + (f" (munged: {munged.stderr.strip()})" if munged.stderr
                                                           else ""))
        yield environment
    finally:
        subprocess.run(["scancel", "--user", "root"], env=environment, capture_output=True)
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
        if munged.returncode == 0:
            subprocess.run(["pkill", "-x", "munged"], capture_output=True)


def run_args(image_path, output):
    return ["--image", str(image_path), "--weights", "random:0", "--size", "16", "--layers", "relu1_1",
            "--all-filters", "--steps", "2", "--batch-size", "16", "--output", str(output)]


def submit(environment, command, cwd):
    done = subprocess.run(command, env=environment, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def jobs_finished(environment):
    done = subprocess.run(["squeue", "-h", "-u", "root"], env=environment, capture_output=True, text=True)
    return done.returncode == 0 and not done.stdout.strip()


@pytest.fixture
def job_environment(slurm, tmp_path):
    """What the jobs run with: this Python, this repository, and their logs in the test's folder."""
    return {**slurm, "FMI_PYTHON": sys.executable, "FMI_HOME": str(ROOT),
            "SBATCH_OUTPUT": str(tmp_path / "slurm-%A_%a.out")}


def test_an_array_and_its_collect_job_give_a_single_runs_figures(job_environment, tmp_path, tiny_image):
    single = tmp_path / "single"
    assert run_fmi.main(run_args(tiny_image, single)) == 0
    split = tmp_path / "split"
    said = submit(job_environment, [str(ROOT / "slurm" / "submit.sh"), "2", *run_args(tiny_image, split)], tmp_path)
    assert said.startswith("shards: job ")
    wait_for(lambda: jobs_finished(job_environment), 300, "the array and the collect job")
    logs = "".join(path.read_text() for path in sorted(tmp_path.glob("slurm-*.out")))
    figure = "fig3_tiny_relu1_1.png"
    assert (split / figure).is_file(), logs
    assert (split / figure).read_bytes() == (single / figure).read_bytes()
    assert sorted(path.name for path in (split / "shards").iterdir()) == ["0-of-2", "1-of-2"]


def test_a_cancelled_task_is_named_and_its_sbatch_line_reruns_it(job_environment, tmp_path, tiny_image, capsys):
    split = tmp_path / "split"
    options = run_args(tiny_image, split)
    job = submit(job_environment, ["sbatch", "--parsable", "--hold", "--array=0-1",
                                   str(ROOT / "slurm" / "sweep.sbatch"), "2", *options], tmp_path).strip()
    submit(job_environment, ["scancel", f"{job}_1"], tmp_path)
    submit(job_environment, ["scontrol", "release", job], tmp_path)
    wait_for(lambda: jobs_finished(job_environment), 300, "the array")
    assert (split / "shards" / "0-of-2" / "record.json").is_file() and not (split / "shards" / "1-of-2").exists()
    capsys.readouterr()
    assert run_fmi.main([*options, "--collect"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "rerun shard(s) 1/2" in error and "on Slurm: sbatch --array=1 " in error, error
    line = error.partition("on Slurm: ")[2]
    submit(job_environment, ["bash", "-c", line], ROOT)
    wait_for(lambda: jobs_finished(job_environment), 300, "the resubmitted task")
    assert run_fmi.main([*options, "--collect"]) == 0
    assert (split / "fig3_tiny_relu1_1.png").is_file()


@pytest.mark.parametrize("count", ["0", "-2", "", "1.5", "PATH[$(touch CANARY)]", "x", "1000000"])
def test_a_count_that_is_no_number_of_tasks_is_one_line_and_runs_nothing(tmp_path, count):
    """Checked as text before bash does arithmetic with it: 'PATH[$(...)]' would run the command inside."""
    count = count.replace("CANARY", str(tmp_path / "canary"))
    done = subprocess.run(["bash", str(ROOT / "slurm" / "submit.sh"), count, "--config", "configs/fig3_sweep.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}"))
    assert done.returncode == 2 and done.stderr.startswith("error: N must be a whole number of tasks"), done.stderr
    assert not (tmp_path / "canary").exists()
