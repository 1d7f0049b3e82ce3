"""``spaces.GPU`` on a ZeroGPU Space, nothing elsewhere."""

import sys
import types

from cnngru.app.spaces import spaces_gpu


def test_spaces_gpu_is_a_no_op_without_the_package_and_used_with_it(monkeypatch):
    def handler():
        yield "x"

    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    assert spaces_gpu(handler) is handler
    used = []
    stub = types.SimpleNamespace(GPU=lambda fn: used.append(fn.__name__) or fn)
    monkeypatch.setitem(sys.modules, "spaces", stub)
    assert spaces_gpu(handler) is handler and used == ["handler"]
