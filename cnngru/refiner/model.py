"""The refiner: a bidirectional character CNN that predicts the clean character at each position.

Unlike the four language models it is deliberately non-causal: to decide whether ``thd`` is a
typo of ``the`` it must read the characters on both sides, so every convolution is centred
(padding on both sides). It is a denoiser, not a language model: corrupted text in, per position
a distribution over the clean character out (``cnngru.refiner.noise`` makes the corruption).

    embedding -> [norm -> dilated conv (k, d) -> GELU -> 1x1 conv, + residual] x L -> norm -> head

With kernel 3 and dilations (1, 2, 4, 8) twice, each output sees 30 characters on either side:
a word and its neighbours. ``receptive_radius`` is that reach; ``refine()`` uses it to cut long
texts into overlapping windows whose results equal one pass over the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.registry import ModelConfig, register


@dataclass
class RefinerConfig(ModelConfig):
    hidden: int = 160  # channels; build_model() solves it to the parameter budget
    kernel_size: int = 3  # odd: centred convolutions see as far left as right
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)  # two passes of doubling reach
    dropout: float = 0.0  # denoising on fresh noise every step barely overfits

    width_multiple = 32  # oneDNN convolutions are several times slower at odd channel counts

    def __post_init__(self):
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a centred convolution), not {self.kernel_size}")

    @property
    def receptive_radius(self) -> int:
        """How many characters on each side can change a position's prediction."""
        return sum((self.kernel_size - 1) // 2 * d for d in self.dilations)


class ChannelNorm(nn.Module):
    """RMS normalisation over channels at each position of a (B, C, T) tensor.

    Per position, so a character's features never depend on how long the text is (a norm over
    time would make windowed and whole-text results differ).
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim, 1))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps) * self.weight


class ConvBlock(nn.Module):
    """x + W(gelu(conv_dilated(norm(x)))): a pre-norm residual block over (B, C, T)."""

    def __init__(self, dim: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = ChannelNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size, dilation=dilation,
                              padding=(kernel_size - 1) // 2 * dilation)  # centred: non-causal
        self.proj = nn.Conv1d(dim, dim, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.dropout(self.proj(F.gelu(self.conv(self.norm(x)))))


@register("refiner")
class Refiner(nn.Module):
    """Noisy character ids (B, T) -> logits of the clean character at every position (B, T, V)."""

    Config = RefinerConfig

    def __init__(self, config: RefinerConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden)
        self.blocks = nn.ModuleList(
            ConvBlock(config.hidden, config.kernel_size, d, config.dropout) for d in config.dilations)
        self.norm = ChannelNorm(config.hidden)
        self.head = nn.Conv1d(config.hidden, config.vocab_size, 1)
        self.apply(self._init_weights)
        for block in self.blocks:  # residual branches start small: the stack begins as a copy
            nn.init.normal_(block.proj.weight, std=0.02 / len(self.blocks) ** 0.5)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Conv1d):
            nn.init.normal_(module.weight, std=(module.in_channels * module.kernel_size[0]) ** -0.5)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=1.0)

    def forward(self, tokens: Tensor) -> Tensor:
        x = self.embed(tokens).transpose(1, 2)  # (B, C, T)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)).transpose(1, 2)  # (B, T, V)


