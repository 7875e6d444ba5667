"""lamina.io: weight files and checkpoints (safetensors + JSON metadata, never pickle), atomic writes.

    lamina.io.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors")
    ckpt = lamina.io.load("ckpt.safetensors")                    # tensors come back as lamina Tensors
    sd = lamina.io.load_state_dict_from("torch_export.safetensors", key_map={"fc.w": "fc.weight"})
"""
from .atomic import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text, fsync_dir
from .safe import CheckpointError, load, load_state_dict_from, read_metadata, save

__all__ = ["CheckpointError", "atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_text",
           "fsync_dir", "load", "load_state_dict_from", "read_metadata", "save"]
