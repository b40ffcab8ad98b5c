"""Model families, one per module, in the style of PyTorch Geometric."""
