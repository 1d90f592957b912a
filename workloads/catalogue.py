"""Named layer catalogues. Sizes are chosen to run in seconds on a 2-core machine; the paper's
full sizes are opt-in catalogues of their own."""
from __future__ import annotations

from workloads.errors import UserError
from workloads.layer import LayerConfig


def _sweep(size: int, tag: str) -> list[LayerConfig]:
    # the paper's sweep (upsampling.md 6.3): C = 3, K = 3, r = 2, 3, 4
    return [LayerConfig(cin=3, cout=3, h=size, w=size, k=3, r=r, name=f"sweep{tag}-r{r}") for r in (2, 3, 4)]


# The last layer of PyTorch's example ESPCN super-resolution net (conv4 32 -> r^2, 3x3, r = 3)
# on the case study's 321 x 481 BSD300 image (upsampling.md 6.4).
ESPCN = LayerConfig(cin=32, cout=1, h=321, w=481, k=3, r=3, name="espcn")


def _fsrcnn(size: int, tag: str = "") -> list[LayerConfig]:
    # FSRCNN's last layer: 56 -> 1 channels, 9x9, r = 2, 3, 4 (Dong et al. 2016)
    return [LayerConfig(cin=56, cout=1, h=size, w=size, k=9, r=r, name=f"fsrcnn{tag}-r{r}") for r in (2, 3, 4)]


CATALOGUES: dict[str, tuple[str, list[LayerConfig]]] = {
    "tiny": ("three small layers for tests and smoke runs",
             [LayerConfig(cin=4, cout=3, h=12, w=10, k=3, r=2, name="tiny-r2"),
              LayerConfig(cin=3, cout=2, h=9, w=11, k=4, r=3, name="tiny-k4-r3"),
              LayerConfig(cin=2, cout=2, h=8, w=8, k=5, r=4, pad=(1, 3, 2, 2), name="tiny-asym-r4")]),
    "sweep": ("the paper's sweep: C 3, K 3, r 2/3/4 at 128x128", _sweep(128, "")),
    "sweep-1024": ("the paper's sweep at its full 1024x1024 (slow, opt-in)", _sweep(1024, "-1024")),
    "espcn": ("the paper's case study: ESPCN's last layer (32 -> 1, K 3, r 3) on 321x481", [ESPCN]),
    "fsrcnn": ("FSRCNN's last layer (56 -> 1, K 9, r 2/3/4) at 32x32", _fsrcnn(32)),
    "fsrcnn-full": ("FSRCNN's last layer at 128x128 (slow, opt-in)", _fsrcnn(128, "-128")),
}
CATALOGUES["paper"] = ("the default: espcn + sweep + fsrcnn",
                       CATALOGUES["espcn"][1] + CATALOGUES["sweep"][1] + CATALOGUES["fsrcnn"][1])
DEFAULT = "paper"


def catalogue(name: str) -> list[LayerConfig]:
    try:
        return list(CATALOGUES[name][1])
    except KeyError:
        raise UserError(f"unknown catalogue {name!r} (known: {', '.join(CATALOGUES)})") from None


def find_layer(name: str) -> LayerConfig | None:
    for _, layers in CATALOGUES.values():
        for layer in layers:
            if layer.name == name:
                return layer
    return None
