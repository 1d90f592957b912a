"""LayerConfig: the shape of one upsampling layer, validated, with a stable readable id.

Padding is the *trained convolution's* padding (top, bottom, left, right). ``None`` means
"same": (K-1)/2 on every side for odd K, and SAME_UPPER (less before, more after) for even K.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from workloads.errors import UserError

DTYPES = ("f32",)
# of the layer's input and output tensors, as the compiled module sees them; nhwc-blocked is NHWC
# with the conv inside blocked for IREE's llvm-cpu codegen (workloads/blocked_conv.py)
LAYOUTS = ("nchw", "nhwc", "nhwc-blocked")
_INT_KEYS = ("batch", "cin", "cout", "h", "w", "k", "r")
_ALIASES = {"n": "batch", "c_in": "cin", "c_out": "cout", "c": "c", "size": "size"}


def same_padding(k: int) -> tuple[int, int]:
    """(begin, end) that keeps a stride-1 conv's output the size of its input."""
    return (k - 1) // 2, k // 2


@dataclass(frozen=True)
class LayerConfig:
    cin: int
    cout: int
    h: int
    w: int
    k: int
    r: int
    batch: int = 1
    pad: tuple[int, int, int, int] | None = None
    bias: bool = True
    dtype: str = "f32"
    layout: str = "nchw"
    name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.pad is not None:
            object.__setattr__(self, "pad", tuple(self.pad))
        self.validate()
        if self.pad is not None and self.pad == self._same_pads():
            object.__setattr__(self, "pad", None)  # one spelling of "same", one id

    def _same_pads(self) -> tuple[int, int, int, int]:
        b, e = same_padding(self.k)
        return (b, e, b, e)

    # -- derived sizes ---------------------------------------------------------------
    @property
    def pads(self) -> tuple[int, int, int, int]:
        return self.pad if self.pad is not None else self._same_pads()

    @property
    def conv_out_hw(self) -> tuple[int, int]:
        """Low-resolution output of the sub-pixel conv (before pixel shuffle)."""
        t, b, l, r_ = self.pads
        return self.h + t + b - self.k + 1, self.w + l + r_ - self.k + 1

    def out_hw(self, method: str) -> tuple[int, int]:
        """Output size of a method: C-SP/D-SP share one, C-NN/C-BL/D-NN the other."""
        t, b, l, r_ = self.pads
        if method in ("C-SP", "D-SP"):
            hc, wc = self.conv_out_hw
            return self.r * hc, self.r * wc
        return (self.r * self.h + t + b - self.k + 1, self.r * self.w + l + r_ - self.k + 1)

    @property
    def id(self) -> str:
        s = f"n{self.batch}-c{self.cin}to{self.cout}-{self.h}x{self.w}-k{self.k}-r{self.r}"
        if self.pad is not None:
            s += "-p" + "_".join(map(str, self.pad))
        if not self.bias:
            s += "-nobias"
        if self.dtype != "f32":
            s += f"-{self.dtype}"
        if self.layout != "nchw":
            s += f"-{self.layout}"
        return s

    @property
    def data_id(self) -> str:
        """What seeds the layer's weights and input: the id without the layout, so an NHWC layer
        computes the very same numbers as its NCHW twin."""
        return replace(self, layout="nchw").id

    @property
    def label(self) -> str:
        return self.name or self.id

    def with_name(self, name: str | None) -> "LayerConfig":
        return replace(self, name=name)

    def with_layout(self, layout: str) -> "LayerConfig":
        """The same layer with NCHW or NHWC input and output; a named layer keeps its name, tagged."""
        if layout == self.layout:
            return self
        base = self.name.removesuffix(f"-{self.layout}") if self.name else None
        name = None if base is None else (base if layout == "nchw" else f"{base}-{layout}")
        return replace(self, layout=layout, name=name)

    # -- validation ------------------------------------------------------------------
    def validate(self) -> None:
        for key in _INT_KEYS:
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool):
                raise UserError(f"layer: {key} must be an integer, got {v!r}")
            if v < 1:
                raise UserError(f"layer: {key} must be at least 1, got {v}")
        if self.layout not in LAYOUTS:
            raise UserError(f"layer: layout {self.layout!r} is not supported (supported: {', '.join(LAYOUTS)})")
        if self.dtype not in DTYPES:
            raise UserError(f"layer: dtype {self.dtype!r} is not supported (supported: {', '.join(DTYPES)})")
        if self.pad is not None:
            if len(self.pad) != 4:
                raise UserError("layer: pad needs 1, 2 (begin/end) or 4 (top/bottom/left/right) values")
            for p in self.pad:
                if not isinstance(p, int) or p < 0 or p > self.k - 1:
                    raise UserError(
                        f"layer: each padding must be between 0 and K-1 = {self.k - 1}, got {p} "
                        "(more padding only adds output pixels that see nothing but zeros)")
        t, b, l, r_ = self.pads
        if self.k > self.h + t + b or self.k > self.w + l + r_:
            raise UserError(
                f"layer: kernel K={self.k} is larger than the padded input "
                f"({self.h + t + b}x{self.w + l + r_}); the convolution would have no output")


def parse_layer(spec: str) -> LayerConfig:
    """Parse ``cin=7,cout=5,h=13,w=17,k=5,r=3[,batch=2][,pad=1|1/2|t/b/l/r][,bias=0][,layout=nhwc][,name=x]``.

    ``c=3`` sets cin and cout, ``size=64`` sets h and w.
    """
    if not spec or not spec.strip():
        raise UserError("--layer: empty layer specification")
    fields: dict = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise UserError(f"--layer: expected key=value, got {part!r} in {spec!r}")
        key, value = (s.strip() for s in part.split("=", 1))
        key = _ALIASES.get(key.lower(), key.lower())
        if key in fields or (key == "c" and ("cin" in fields or "cout" in fields)):
            raise UserError(f"--layer: {key!r} given twice in {spec!r}")
        clash = {"cin": "c", "cout": "c", "h": "size", "w": "size", "size": "h" if "h" in fields else "w"}.get(key)
        if clash in fields:                      # c=2,cin=3: which one was meant? refuse rather than pick
            raise UserError(f"--layer: {key!r} contradicts {clash!r} in {spec!r}")
        if key in _INT_KEYS or key in ("c", "size"):
            fields[key] = _parse_int(key, value)
        elif key == "pad":
            fields["pad"] = _parse_pad(value)
        elif key == "bias":
            if value.lower() not in ("0", "1", "true", "false", "yes", "no"):
                raise UserError(f"--layer: bias must be 0 or 1, got {value!r}")
            fields["bias"] = value.lower() in ("1", "true", "yes")
        elif key == "dtype":
            fields["dtype"] = value
        elif key == "layout":
            fields["layout"] = value.lower()
        elif key == "name":
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
                raise UserError(f"--layer: name may hold letters, digits, '_', '.', '-' only: {value!r}")
            fields["name"] = value
        else:
            raise UserError(
                f"--layer: unknown key {key!r} (known: batch, cin, cout, c, h, w, size, k, r, pad, bias, dtype, layout, name)")
    if "c" in fields:
        c = fields.pop("c")
        fields["cin"] = fields["cout"] = c
    if "size" in fields:
        s = fields.pop("size")
        fields.setdefault("h", s)
        fields.setdefault("w", s)
    missing = [k for k in ("cin", "cout", "h", "w", "k", "r") if k not in fields]
    if missing:
        raise UserError(f"--layer: missing {', '.join(missing)} in {spec!r}")
    if fields.get("pad") is not None:
        p = fields["pad"]
        fields["pad"] = {1: p * 4, 2: p * 2, 4: p}[len(p)]
    return LayerConfig(**fields)


def _parse_int(key: str, value: str) -> int:
    if not value.isascii():                      # int() reads full-width and other Unicode digits
        raise UserError(f"--layer: {key} must be written with ASCII digits, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise UserError(f"--layer: {key} must be an integer, got {value!r}") from None


def _parse_pad(value: str) -> tuple[int, ...] | None:
    if value.lower() == "same":
        return None
    parts = value.split("/")
    if len(parts) not in (1, 2, 4):
        raise UserError(f"--layer: pad takes P, B/E or T/B/L/R, got {value!r}")
    return tuple(_parse_int("pad", p) for p in parts)
