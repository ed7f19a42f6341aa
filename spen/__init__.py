"""Energy-based sequence labeling with inference networks (Tu, Pang & Gimpel, 2020)."""

__version__ = "0.1.0"
