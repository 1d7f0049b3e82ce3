"""Why a model wrote (or would have written) each character of a text.

``analyse(bundle, text)`` reads the text once with the state carried and reports, for every
character, how the model saw it coming: its probability and surprisal, the entropy of the
prediction, the likeliest alternatives, the hybrid's attention and CNN-vs-GRU reliance, and, for
every variant with a CNN, the CNN's influence: the KL divergence between the prediction with and
without the CNN path (one extra pass with ``cnn_off=True``, where the trace of the first cannot
stand in for it: ``log_probs_without_cnn``).

Every per-character array is aligned to the character being *predicted*: entry ``i`` describes the
prediction of ``text[i]`` made after reading ``text[:i]`` (entry 0 has no prediction: NaN). The
forward is exact whether fed whole or one character at a time, so analysing a finished sample
tells what happened while it was generated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from .checkpoint import Bundle
from .generation import Reading
from .models.recurrent import CNNPost, Hybrid

CHUNK = 1024  # characters per forward: the hybrid's attention scores grow with chunk length²
TOP = 5  # alternatives kept per character


KEYS = {"cnn": "the CNN features of those characters (cnn)",  # what each source's keys are
        "memory": "the GRU states after them (memory)"}


@dataclass
class Analysis:
    """Per-character numbers of one text under one model (see the module docstring)."""

    model: str
    variant: str
    text: str
    probability: np.ndarray  # (N,) p(text[i] | text[:i]), temperature 1
    entropy: np.ndarray  # (N,) bits, of the distribution text[i] was drawn from
    rank: np.ndarray  # (N,) 1 = the model's favourite; 0 at i = 0
    top_chars: list[str]  # (N,) the TOP likeliest characters as one string each
    top_probs: np.ndarray  # (N, TOP)
    influence: np.ndarray | None  # (N,) KL(with CNN || without) in bits; None: no CNN
    attention: np.ndarray | None  # (N, S * W): per source, weights over its keys at text[i-W..i-1]
    reliance: np.ndarray | None  # (N,) the hybrid's weight on the CNN context (1: all CNN)
    split: np.ndarray | None = None  # (N, 1 + S) a split gate's weights (None: no split gate)
    split_columns: tuple[str, ...] = ()  # what each weighs: "gru" (its state), then the sources
    attention_sources: tuple[str, ...] = ("cnn",)  # the attention's column blocks (KEYS), in order

    @cached_property  # read per character by the hover texts: computed once
    def surprisal(self) -> np.ndarray:
        """Bits per character: -log2 p (NaN at i = 0)."""
        with np.errstate(divide="ignore"):
            return -np.log2(self.probability)

    def bits_per_char(self, start: int = 1) -> float:
        """Mean surprisal of text[start:] (start >= 1: the first character is never predicted)."""
        return float(np.mean(self.surprisal[max(start, 1):]))

    @property
    def window(self) -> int:
        """How many positions back each source's attention reaches (0: no attention)."""
        return 0 if self.attention is None else self.attention.shape[1] // len(self.attention_sources)

    def attention_of(self, source: str) -> np.ndarray:
        """(N, W): the attention's weights over one source's keys."""
        k = self.attention_sources.index(source)
        return self.attention[:, k * self.window:(k + 1) * self.window]

    def to_dict(self, digits: int = 4) -> dict:
        """Plain JSON-ready numbers (NaN -> None), as the demo's download and API return them."""

        def clean(a: np.ndarray | None):
            if a is None:
                return None
            rounded = np.round(a.astype(np.float64), digits)
            return np.where(np.isfinite(rounded), rounded, None).tolist()

        top_probs = clean(self.top_probs)
        return {
            "model": self.model, "variant": self.variant, "text": self.text,
            "alignment": "entry i describes the prediction of text[i] from text[:i]",
            "bits_per_char": round(self.bits_per_char(), digits),
            "probability": clean(self.probability), "surprisal_bits": clean(self.surprisal),
            "entropy_bits": clean(self.entropy), "rank": self.rank.tolist(),
            "top": [[]] + [[[c, p] for c, p in zip(chars, probs, strict=True)]
                           for chars, probs in zip(self.top_chars[1:], top_probs[1:], strict=True)],
            "cnn_influence_kl_bits": clean(self.influence),
            "reliance": clean(self.reliance),
            "split": clean(self.split), "split_columns": list(self.split_columns) or None,
            "attention": clean(self.attention),
            "attention_sources": list(self.attention_sources) if self.window else None,
            "attention_keys": (f"row i: for each source in turn, {self.window} weights over "
                               f"text[i-{self.window}]..text[i-1], oldest first: "
                               + ", ".join(KEYS[s] for s in self.attention_sources)
                               if self.window else None),
        }


def log_probs(bundle: Bundle, texts: list[torch.Tensor], cnn_off: bool
              ) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """Log-probabilities (B, T, V) of every text's characters after the first, and the trace, in
    one forward of the batch read in chunks with the state. Texts shorter than the longest are
    padded at their end, which a causal model never reads back: row b's entries up to
    ``len(texts[b]) - 1`` are its own, whatever else is in the batch."""
    T = max(len(ids) for ids in texts) - 1
    x = torch.zeros(len(texts), T, dtype=torch.long)
    for b, ids in enumerate(texts):
        x[b, :len(ids) - 1] = ids[:-1]
    state, logps, traces = None, [], {}
    for a in range(0, T, CHUNK):
        out = bundle.model(x[:, a:a + CHUNK].to(bundle.device), state, cnn_off=cnn_off)
        state = out.state
        logps.append(torch.log_softmax(out.logits.double(), dim=-1).cpu())
        for k, v in out.trace.items():
            traces.setdefault(k, []).append(v.float().cpu())
    return torch.cat(logps, 1), {k: torch.cat(v, 1).numpy() for k, v in traces.items()}


def encode(bundle: Bundle, text: str, unknown: str = "error") -> torch.Tensor:
    """The ids of a text to analyse (``unknown`` as in ``Vocab.encode``); at least two."""
    ids = bundle.vocab.encode_tensor(text, unknown)
    if len(ids) < 2:
        raise ValueError("the text needs at least two characters: the first is never predicted")
    return ids


@torch.inference_mode()
def analyse(bundle: Bundle, text: str, influence: bool = True, unknown: str = "error") -> Analysis:
    """The per-character analysis of ``text`` (at least two characters) under ``bundle``.

    ``influence=False`` skips the extra pass that measures the CNN's influence.
    ``unknown`` is passed to ``Vocab.encode`` ("error" raises ``UnknownCharactersError``).
    """
    ids = encode(bundle, text, unknown)
    logp, trace = log_probs(bundle, [ids], cnn_off=False)
    logq = None
    if influence and bundle.variant != "gru":
        logq = log_probs_with_cnn_off(bundle, [ids], trace)[0]
    return analysis_of(bundle, ids, logp[0], {k: v[0] for k, v in trace.items()}, logq)


@torch.inference_mode()
def analyse_generation(bundle: Bundle, start: str, steps: list,
                       reading: Reading | None = None) -> Analysis:
    """``analyse(bundle, start + the steps' characters)``, from what a generation with
    diagnostics computed: each step's logits predict its character, and its trace belongs to the
    next prediction. Only ``start`` is read again (one forward, and no second one where
    ``log_probs_without_cnn`` can tell the influence), so a finished text costs a short forward
    instead of two over all of it; not even that when ``reading`` (the ``Reading`` of ``start``,
    kept by ``read_prompt``) is given. Equal to ``analyse`` up to the step's rounding (~1e-6)."""
    rows = [(s.explained, s.row) for s in steps]  # each step's row of its batch's numbers
    if not start or not steps or any(e is None for e, _ in rows):
        raise ValueError("analyse_generation needs a start and steps generated with diagnostics")
    ids = encode(bundle, start + "".join(s.char for s in steps))
    P = len(start)
    if reading is None:  # the start's predictions, the last of them its first new character's
        head, head_trace = log_probs(bundle, [ids[:P + 1]], cnn_off=False)
        head, head_trace = head[0], {k: v[0, :P] for k, v in head_trace.items()}
    else:
        if len(reading.log_probs) != P:
            raise ValueError(f"the reading covers {len(reading.log_probs)} characters, the start "
                             f"{P}")
        head, head_trace = reading.log_probs, reading.trace
    later = np.array([e.logits[r] for e, r in rows[1:]], np.float32).reshape(-1, head.shape[-1])
    logp = torch.cat([head, torch.log_softmax(torch.from_numpy(later).double(), dim=-1)])
    trace = {k: np.concatenate([v, np.array([e.trace[k][r] for e, r in rows[:-1]],
                                            v.dtype).reshape(-1, *v.shape[1:])])
             for k, v in head_trace.items()}
    logq = None
    if bundle.variant != "gru":
        logq = log_probs_with_cnn_off(bundle, [ids], {k: v[None] for k, v in trace.items()})[0]
    return analysis_of(bundle, ids, logp, trace, logq)


def joined(chars: str | list[str], ids: np.ndarray) -> list[str]:
    """Each row of ``ids`` (N, K) as the string of its K characters: read as one K-character
    NumPy string, without a Python join per row (NumPy drops NULs, so a vocabulary holding one is
    joined in Python)."""
    if ids.shape[1] and "\0" not in chars:
        table = np.array(list(chars), "<U1")
        return np.ascontiguousarray(table[ids]).view(f"<U{ids.shape[1]}")[:, 0].tolist()
    return ["".join(chars[j] for j in row) for row in ids.tolist()]


def log_probs_with_cnn_off(bundle: Bundle, texts: list[torch.Tensor],
                           trace: dict[str, np.ndarray]) -> torch.Tensor:
    """``log_probs(bundle, texts, cnn_off=True)``'s log-probabilities: from ``trace`` (the
    texts' pass with the CNN) where ``log_probs_without_cnn`` can, else a second pass."""
    without = log_probs_without_cnn(bundle, trace)
    return without if without is not None else log_probs(bundle, texts, cnn_off=True)[0]


def log_probs_without_cnn(bundle: Bundle, trace: dict[str, np.ndarray]) -> torch.Tensor | None:
    """What ``log_probs(..., cnn_off=True)`` gives, from the trace of the pass with the CNN, where
    the CNN sits after the GRU and the GRU's path does not depend on it: ``cnn-post`` adds its
    refinement to the GRU's output, and the reliance-gated hybrid mixes its context in; without
    the CNN both predict ``head(GRU output)``, and the trace holds that output ("units"). None
    where a second pass is needed: the CNN feeds the GRU (``cnn-pre``), or a split gate would
    share the CNN's weight among the other parts."""
    model = bundle.model
    after_gru = isinstance(model, CNNPost) or (isinstance(model, Hybrid)
                                                and model.config.gate == "reliance")
    if not after_gru or "units" not in trace:
        return None
    units = torch.from_numpy(trace["units"]).to(bundle.device)
    return torch.log_softmax(model.head(units).double(), dim=-1).cpu()


def analysis_of(bundle: Bundle, ids: torch.Tensor, logp: torch.Tensor, trace: dict,
                logq: torch.Tensor | None) -> Analysis:
    """The Analysis of one text from its forward's outputs (rows beyond ``len(ids) - 1``, a
    batch's padding, are ignored); ``logq``: the pass without the CNN, for its influence."""
    n = len(ids) - 1
    logp = logp[:n]
    probs = logp.exp()
    target = ids[1:]
    p_target = probs.gather(1, target[:, None])[:, 0]
    entropy = -(probs * logp).sum(-1) / math.log(2)
    rank = (probs > p_target[:, None]).sum(-1) + 1
    top_p, top_i = probs.topk(min(TOP, probs.shape[1]), dim=-1)
    kl = None
    if logq is not None:
        kl = pad((probs * (logp - logq[:n])).sum(-1).clamp_min(0).numpy() / math.log(2))
    chars = bundle.vocab.chars
    attention = trace.get("attention")
    return Analysis(
        model=bundle.name, variant=bundle.variant, text=bundle.vocab.decode(ids.tolist()),
        probability=pad(p_target.numpy()), entropy=pad(entropy.numpy()),
        rank=np.concatenate([[0], rank.numpy()]).astype(np.int64),
        top_chars=[""] + joined(chars, top_i.numpy()),
        top_probs=pad(top_p.numpy()),
        influence=kl,
        attention=None if attention is None else pad(attention[:n]),
        reliance=None if "reliance" not in trace else pad(trace["reliance"][:n]),
        split=None if "split" not in trace else pad(trace["split"][:n]),
        split_columns=("gru", *bundle.model.config.sources) if "split" in trace else (),
        attention_sources=tuple(getattr(bundle.model.config, "sources", ("cnn",))),
    )


def pad(a: np.ndarray) -> np.ndarray:
    """Prepend the NaN row of text[0], which no model predicts."""
    a = np.asarray(a, dtype=np.float64)
    return np.concatenate([np.full((1, *a.shape[1:]), np.nan), a])
