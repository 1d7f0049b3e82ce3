"""The batched generation step on a GPU: the model's one-character forward, captured once per
batch size as a CUDA graph and replayed, with the state kept on the device between steps.

A character-level step is a few hundred tiny kernels; launched one by one, a GPU waits on the
CPU for each, and the model's forward on a GPU was slower than the fused NumPy step on one CPU
core. Replayed as one graph, 16 rows step 1.7 to 3.8 times faster than the CPU's fused 16-row
step (``python -m cnngru.bench.cuda_step``, ``results/bench-gpu-h100-step.txt``).

``GraphStep.step`` has the fused step's signature, so the engine (``batched_generation``) uses
either. Batch sizes round up to a power of two (the spare rows compute and are ignored), so a
handful of graphs serve every batch. What the engine gets back stays on the device until read:
the state while the batch is unchanged (the next step takes it from where it is), and the trace
unless a row asked for diagnostics. Only the logits come to the host each step, for sampling.

Off CUDA the same code runs eagerly, without a capture, so the CPU tests cover everything but
the capture itself. (On ZeroGPU the engine never holds the GPU: ``app/spaces.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import torch

from .checkpoint import Bundle
from .models.numpy_step import NumpyState


class OnDevice(Mapping):
    """Arrays that stay on the device until read (then copied to the host once). A step's
    buffers are reused by the next step of the same size: reading one after it is an error."""

    def __init__(self, tensors: dict[str, torch.Tensor], rows: int, graph: _Graph):
        self._tensors, self.rows, self.graph = tensors, rows, graph
        self._version = graph.replays
        self._host: dict[str, np.ndarray] | None = None

    @property
    def current(self) -> bool:
        return self.graph.replays == self._version

    def _read(self) -> dict[str, np.ndarray]:
        if self._host is None:
            if not self.current:
                raise RuntimeError("these arrays were overwritten by a later step")
            self._host = {k: v[:self.rows].cpu().numpy() for k, v in self._tensors.items()}
        return self._host

    def __getitem__(self, key: str) -> np.ndarray:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)


class _Graph:
    """One batch size's step: static inputs (tokens, state), the replayed forward, its outputs."""

    def __init__(self, model: torch.nn.Module, size: int, like: dict[str, torch.Tensor],
                 capture: bool):
        device = next(model.parameters()).device
        self.tokens = torch.zeros(size, 1, dtype=torch.long, device=device)
        self.state = {k: torch.zeros((size, *v.shape[1:]), dtype=v.dtype, device=device)
                      for k, v in like.items()}
        self.model, self.replays = model, 0
        self.captured = capture
        if self.captured:
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):  # warm-up off the default stream, as capture requires
                for _ in range(2):
                    model(self.tokens, self.state)
            torch.cuda.current_stream(device).wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.logits, self.trace = self._forward()

    def _forward(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = self.model(self.tokens, self.state)
        for k, v in out.state.items():  # the next step starts from here: in place, in the graph
            self.state[k].copy_(v)
        return out.logits[:, -1].float(), {k: v[:, -1] for k, v in out.trace.items()}

    def run(self) -> None:
        self.replays += 1
        if self.captured:
            self.graph.replay()
        else:
            self.logits, self.trace = self._forward()


class GraphStep:
    """``step(tokens, state) -> (logits, state, trace)`` for a model on any device; on CUDA one
    graph launch per step (see the module's docstring)."""

    def __init__(self, bundle: Bundle, capture: bool | None = None):
        """``capture`` (default: on CUDA): replay graphs, else run the forward."""
        self.model = bundle.model
        if capture is None:
            capture = bundle.device.type == "cuda"
        self.capture = capture
        self.graphs: dict[int, _Graph] = {}

    @torch.inference_mode()
    def step(self, tokens: np.ndarray, state: NumpyState | OnDevice):
        rows = len(tokens)
        size = 1 << max(0, rows - 1).bit_length()  # the next power of two
        graph = self.graphs.get(size)
        if graph is None:
            shapes = {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}
            graph = self.graphs[size] = _Graph(self.model, size, shapes, self.capture)
        if not (isinstance(state, OnDevice) and state.graph is graph and state.current
                and state.rows == rows):  # a new batch: its state goes to the device
            for k, v in state.items():
                graph.state[k][:rows].copy_(torch.from_numpy(np.ascontiguousarray(v)))
        graph.tokens[:rows, 0].copy_(torch.from_numpy(np.asarray(tokens, np.int64)))
        graph.run()
        logits = graph.logits[:rows].cpu().numpy()  # waits for the step: sampling needs it
        return logits, OnDevice(graph.state, rows, graph), OnDevice(graph.trace, rows, graph)
