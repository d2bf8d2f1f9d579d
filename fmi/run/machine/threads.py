"""CPU thread count for MXNet's OpenMP and MKL-DNN kernels.

MXNet 1.9 reads OMP_NUM_THREADS once, when it is imported, and without it uses only
half the cores (measured by bench/speed.py on a 2-core AMD EPYC: a VGG-19 step at 384 x 512
to relu5_2 took 3.43 s with MXNet's default and 1.78 s with both cores). fmi therefore sets the variable
to every core this process may run on before MXNet loads, whatever the environment
says; the ``threads`` setting (or FMI_THREADS) chooses another count. Changing it after
MXNet has loaded needs a fresh process, which ``apply`` starts when run as a script.
"""
import logging
import os
import sys
from typing import Optional

from fmi import THREADS_VARIABLE as OVERRIDE_VARIABLE
from fmi import configure_default_threads, usable_cores, wanted_threads

log = logging.getLogger("fmi")


def override_problem() -> Optional[str]:
    """What is wrong with FMI_THREADS, for the scripts to say before they start; None if nothing."""
    given = os.environ.get(OVERRIDE_VARIABLE)
    if given is None or wanted_threads() is not None:
        return None
    return (f"{OVERRIDE_VARIABLE}={given!r}: expected a whole number of threads from 1 to 1024; unset it to use "
            f"every usable core ({usable_cores()})")


def in_force() -> int:
    """The thread count MXNet was (or will be) started with."""
    return int(os.environ.get("OMP_NUM_THREADS", "0")) or usable_cores()


def apply(threads: Optional[int], restart_argv: Optional[list[str]] = None) -> int:
    """Make ``threads`` the count in force; return the count that is.

    MXNet only reads the count at import, so when it differs this re-executes the
    script with FMI_THREADS set (``restart_argv`` is the script's argv); without
    ``restart_argv`` (a library call) it logs that the count could not change.
    """
    if threads is None or threads == in_force():
        return in_force()
    if "mxnet" not in sys.modules:
        os.environ[OVERRIDE_VARIABLE] = str(threads)
        configure_default_threads()
        return in_force()
    if restart_argv is not None:
        environment = dict(os.environ, **{OVERRIDE_VARIABLE: str(threads)})
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *restart_argv], environment)
    log.warning("threads: %d requested, but MXNet already runs with %d; set FMI_THREADS=%d "
                "before starting Python", threads, in_force(), threads)
    return in_force()
