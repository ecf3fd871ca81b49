"""The hand-written ``_leadroute.pyi`` matches the compiled module (``mypy.stubtest``), and
every Python-visible function and class has a docstring."""

from __future__ import annotations

import inspect
import os
import pathlib
import subprocess
import sys

import leadroute
from leadroute import _leadroute


def test_stub_matches_the_module(tmp_path: pathlib.Path) -> None:
    env = dict(os.environ, MYPY_CACHE_DIR=str(tmp_path / "mypy-cache"))
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "leadroute._leadroute"],
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
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj) and obj.__module__.startswith("leadroute._leadroute"):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                assert inspect.getdoc(member), f"{name}.{attr}"
    assert set(_leadroute.__all__) <= set(leadroute.__all__)
