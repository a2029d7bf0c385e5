"""Data utilities shared by the stages: MATLAB-compatible resizing, colour conversions, datasets, degradations."""
