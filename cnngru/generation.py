"""Streaming generation: one character per step, the state carried, the prefix never recomputed.

``generate(bundle, prompt, ...)`` returns a ``Generation``: iterate it for ``Step``s; when it
stops, ``generation.continuation`` picks the text up where it ended. The prompt is read in one
batched pass; every new character then costs one constant-size step (the fused NumPy step on the
CPU, the model's own forward elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .checkpoint import Bundle
from .models import LANGUAGE_MODELS, VARIANTS
from .models.numpy_step import NumpyState, to_numpy_state, to_torch_state
from .sampling import SamplingSettings, inverse_cdf, sampling_distribution

PROMPT_CHUNK = 2048  # the prompt is read in pieces of this many characters: bounded memory
TOP_ALTERNATIVES = 5


class Explained:
    """What diagnostics keep of one batched step: the logits each row drew from, the trace of
    its new character, and what the logits say at temperature 1. Only the drawn character's
    probability is computed at once (a stream shows it as it goes); the entropy and the likeliest
    few wait until a step asks, for the whole batch: a crowd's generations make thousands of
    steps a second, and few are ever looked at that way."""

    def __init__(self, logits: np.ndarray, chosen: np.ndarray, chars: str,
                 trace: dict[str, np.ndarray]):
        """``logits`` (B, vocab) sampled from; ``chosen`` (B,) the characters drawn; ``trace``
        (each (B, ...)) what the step did. The arrays are kept, not copied."""
        self.logits, self.trace, self.chars = logits, trace, chars
        z = logits.astype(np.float64)
        self._exp = np.exp(z - z.max(-1, keepdims=True))
        self._sum = self._exp.sum(-1, keepdims=True)
        rows = np.arange(len(z))
        self.chosen = (self._exp[rows, chosen] / self._sum[:, 0]).tolist()  # plain Python numbers

    @cached_property
    def probabilities(self) -> np.ndarray:
        """(B, vocab): each row's ``sampling.softmax`` of its logits."""
        return self._exp / self._sum

    @cached_property
    def entropy(self) -> list[float]:
        p = self.probabilities
        return (-(p * np.log2(np.maximum(p, 1e-300))).sum(-1)).tolist()

    @cached_property
    def top(self) -> tuple[list[list[int]], list[list[float]]]:
        """Each row's likeliest ``TOP_ALTERNATIVES`` ids and their probabilities."""
        p = self.probabilities
        top = np.argsort(-p, axis=-1, kind="stable")[:, :TOP_ALTERNATIVES]
        return top.tolist(), p[np.arange(len(p))[:, None], top].tolist()


@dataclass(slots=True)
class Step:
    """One generated character and, when diagnostics are on, why it was chosen: row ``row`` of
    its batched step's ``Explained``, read when asked for."""

    char: str
    index: int  # vocabulary id
    explained: Explained | None = None
    row: int = 0

    @property
    def probability(self) -> float | None:
        """The model's probability of this character (at temperature 1)."""
        return None if self.explained is None else self.explained.chosen[self.row]

    @property
    def entropy(self) -> float | None:
        """Of the model's next-character distribution, in bits."""
        return None if self.explained is None else self.explained.entropy[self.row]

    @property
    def top(self) -> list[tuple[str, float]] | None:
        """The most likely characters and their probabilities."""
        if self.explained is None:
            return None
        ids, probs = self.explained.top
        chars = self.explained.chars
        return [(chars[i], p) for i, p in zip(ids[self.row], probs[self.row], strict=True)]

    @property
    def trace(self) -> dict[str, np.ndarray]:
        """What the step did for this character, e.g. the hybrid's attention ({} without
        diagnostics)."""
        if self.explained is None:
            return {}
        return {k: v[self.row] for k, v in self.explained.trace.items()}

    @property
    def logits(self) -> np.ndarray | None:
        """(vocab,) what it was drawn from, before temperature."""
        return None if self.explained is None else self.explained.logits[self.row]


@dataclass
class Reading:
    """What reading a text predicted at each of its positions: the numbers a per-character
    analysis needs, kept from reading a prompt so that analysing its generation does not read
    the prompt a second time."""

    log_probs: torch.Tensor  # (T, vocab) float64: position t's prediction of character t + 1
    trace: dict[str, np.ndarray]  # each (T, ...): what the model did at position t


@dataclass
class Continuation:
    """Where a text stopped: the state after its last character and the logits for the next."""

    state: NumpyState
    logits: np.ndarray  # (vocab,)
    text: str  # everything so far, for display
    reading: Reading | None = None  # of the whole text, when it was read from its start


class Generation:
    """An iterator of ``Step``s that remembers where it is, so it can be continued."""

    def __init__(self, bundle: Bundle, start: Continuation, settings: SamplingSettings,
                 max_new_tokens: int, draws: Iterator[float], diagnostics: bool, fast: bool):
        self.bundle = bundle
        self.start = start
        self._state, self._logits, self._chars = start.state, start.logits, []
        self.settings = settings
        self.max_new_tokens = max_new_tokens
        self.draws = draws
        self.diagnostics = diagnostics
        self.step_fn = bundle.fast_step.step if fast else _torch_step(bundle)

    def __iter__(self) -> Iterator[Step]:
        vocab = self.bundle.vocab
        for _ in range(self.max_new_tokens):
            index = inverse_cdf(sampling_distribution(self._logits, self.settings), next(self.draws))
            logits, state, trace = self.step_fn(np.array([index]), self._state)
            step = Step(vocab.chars[index], index)
            if self.diagnostics:
                step.explained = Explained(self._logits[None], np.array([index]), vocab.chars,
                                           trace)
            self._state, self._logits = state, logits[0]
            self._chars.append(step.char)
            yield step

    @property
    def new_text(self) -> str:
        return "".join(self._chars)

    @property
    def text(self) -> str:
        """The prompt (and anything continued from) plus what has been generated so far."""
        return self.start.text + self.new_text

    @property
    def continuation(self) -> Continuation:
        """Where the text stands now: pass it as ``continue_from`` to carry on."""
        return Continuation(self._state, self._logits, self.text)


def _torch_step(bundle: Bundle):
    """The model's own forward as a step function with the fast step's signature."""
    device = bundle.device

    @torch.inference_mode()
    def step(tokens: np.ndarray, state: NumpyState):
        out = bundle.model(torch.as_tensor(tokens, device=device)[:, None],
                           to_torch_state(state, device) if state else None)
        trace = {k: v[:, -1].float().cpu().numpy() for k, v in out.trace.items()}
        return out.logits[:, -1].float().cpu().numpy(), to_numpy_state(out.state), trace

    return step


@torch.inference_mode()
def read_prompt(bundle: Bundle, prompt: str, start: Continuation | None = None,
                unknown: str = "error", keep_reading: bool = False) -> Continuation:
    """Feed ``prompt`` (after ``start``, if given) in batched chunks; return where it ends.
    ``keep_reading`` (without ``start``) keeps the ``Reading`` of the prompt in the result."""
    ids = bundle.vocab.encode(prompt, unknown)
    if start is None and not ids:
        raise ValueError("the prompt is empty: give at least one character to start from")
    keep_reading = keep_reading and start is None
    device = bundle.device
    state = to_torch_state(start.state, device) if start else None
    logits = start.logits if start else None
    log_probs, traces = [], {}
    for i in range(0, len(ids), PROMPT_CHUNK):
        chunk = torch.tensor([ids[i:i + PROMPT_CHUNK]], device=device)
        out = bundle.model(chunk, state)
        state, logits = out.state, out.logits[0, -1].float().cpu().numpy()
        if keep_reading:
            log_probs.append(torch.log_softmax(out.logits[0].double(), dim=-1).cpu())
            for k, v in out.trace.items():
                traces.setdefault(k, []).append(v[0].float().cpu().numpy())
    np_state = to_numpy_state(state) if state is not None else start.state
    reading = Reading(torch.cat(log_probs), {k: np.concatenate(v) for k, v in traces.items()}) \
        if keep_reading else None
    return Continuation(np_state, logits, (start.text if start else "") + bundle.vocab.decode(ids),
                        reading)


def uniform_draws(seed: int | None) -> Iterator[float]:
    """The stream of uniform numbers in [0, 1) a seed stands for: one per generated character
    (the seed is checked now, not at the first character)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or seed < 0):
        raise ValueError(f"seed must be a whole number >= 0 (None: random), not {seed!r}")
    return _draws(np.random.default_rng(seed))


def _draws(rng: np.random.Generator) -> Iterator[float]:
    while True:
        yield from rng.random(256)


def language_model(bundle: Bundle) -> Bundle:
    """``bundle``, if it holds a language model; else a ValueError saying what it holds."""
    if bundle.variant not in LANGUAGE_MODELS:
        raise ValueError(f"{bundle.name!r} holds a {bundle.variant!r} model, not a language "
                         f"model: generating needs one of {', '.join(LANGUAGE_MODELS)}")
    return bundle


def generate(bundle: Bundle, prompt: str = "", *, max_new_tokens: int = 200,
             temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
             seed: int | None = None, diagnostics: bool = False, unknown: str = "error",
             continue_from: Continuation | None = None, draws: Iterator[float] | None = None,
             fast: bool | None = None) -> Generation:
    """Stream up to ``max_new_tokens`` characters after ``prompt``.

    ``temperature=0`` is greedy. The same ``seed`` gives the same draws to every model, so
    side-by-side texts share their dice (``draws`` supplies your own stream instead).
    ``unknown`` says what to do with prompt characters outside the vocabulary: ``"error"``
    raises ``UnknownCharactersError`` naming them, ``"replace"`` maps them to known ones.
    ``continue_from`` carries on from an earlier ``Generation.continuation``.
    ``fast`` (default: for a variant on the CPU) uses the fused NumPy step.
    """
    settings = SamplingSettings(temperature, top_k, top_p)
    language_model(bundle)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int | np.integer) \
            or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be a whole number >= 0, not {max_new_tokens!r}")
    draws = draws if draws is not None else uniform_draws(seed)
    start = read_prompt(bundle, prompt, continue_from, unknown) if prompt or not continue_from \
        else continue_from
    if fast is None:  # the fused step exists for the four variants
        fast = bundle.device.type == "cpu" and bundle.variant in VARIANTS
    return Generation(bundle, start, settings, int(max_new_tokens), draws, diagnostics, fast)
