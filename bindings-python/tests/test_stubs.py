"""The hand-written ``_leadroute.pyi`` and the package's Python modules match what runs
(``mypy.stubtest leadroute``), and every Python-visible function and class has a
docstring."""

from __future__ import annotations

import inspect
import os
import pathlib
import subprocess
import sys
import typing

import leadroute
from leadroute import _leadroute


def test_stub_matches_the_module(tmp_path: pathlib.Path) -> None:
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "mypy-cache"))
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "leadroute"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_everything_public_is_documented() -> None:
    for name in leadroute.__all__:
        obj = getattr(leadroute, name)
        if name == "__version__":
            continue
        if typing.get_origin(obj) is typing.Union:
            # A type alias (``IngestOutcome``): its members are checked as classes, and the
            # package docs name it.
            assert all(m.__name__ in leadroute.__all__ for m in typing.get_args(obj)), name
            assert name in (leadroute.__doc__ or ""), name
            continue
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj) and obj.__module__.startswith("leadroute._leadroute"):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                assert inspect.getdoc(member), f"{name}.{attr}"
    assert set(_leadroute.__all__) <= set(leadroute.__all__)


def test_typed_usage_runs(tmp_path: pathlib.Path) -> None:
    """``typing_check.py`` (checked by ``mypy --strict`` in ``scripts/test.sh``) does what its
    types say, on a real engine (a file given as ``os.PathLike``)."""
    import typing_check

    typing_check.run(tmp_path / "typed.db")
