"""lamina.ops: one module per op family; each Function holds its forward and backward math."""
