"""upsampling-suite: benchmark convolution-based image upsampling compiled through IREE."""

__version__ = "0.1.0"
