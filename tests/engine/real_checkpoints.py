"""Hub-repository folders of the published checkpoints with weight files that hold no data.

`tests/engine/real_configs/` keeps the non-weight files of the hub repositories the engine
defaults to (configs, model_index.json, tokenizer settings), laid out as the repositories
are. `write_hub_folder` copies one and writes, for each model in it, a safetensors file with
the real repository's file name and exactly the tensor names and shapes its class builds
from that config. The files are sparse: the header is real, the data a hole the size of the
tensors, so a 23 GB text encoder takes one disk block, and safetensors maps it without
reading it. Loaded in the dtype they are written in, the tensors stay mapped, untouched:
the engine's own `from_pretrained` calls run over real-size checkpoints with no memory.
"""

import json
import math
import shutil
import struct
from pathlib import Path

from engine.random_models import t5_style_tokenizer, write_clip_vocabulary

REAL_CONFIGS = Path(__file__).resolve().parent / "real_configs"
SAFETENSORS_DTYPES = {"float32": ("F32", 4), "float16": ("F16", 2), "bfloat16": ("BF16", 2)}
WEIGHT_FILES = {"diffusers": "diffusion_pytorch_model.safetensors", "transformers": "model.safetensors"}


def empty_model(library, class_name, folder):
    """The model `folder`'s config builds, on the meta device (accelerate's init_empty_weights)."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        if library == "diffusers":
            import diffusers

            cls = getattr(diffusers, class_name)
            return cls.from_config(cls.load_config(folder))
        import transformers

        cls = getattr(transformers, class_name)
        return cls(cls.config_class.from_pretrained(folder))


def write_sparse_safetensors(path, shapes, dtype):
    """A safetensors file of `shapes` ({name: shape}) in `dtype` whose data is a hole."""
    code, width = SAFETENSORS_DTYPES[dtype]
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in sorted(shapes.items()):
        size = width
        for extent in shape:
            size *= extent
        header[name] = {"dtype": code, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + offset)


def write_weights(library, class_name, folder, dtype):
    """The model's weight file, named as the hub repository names it; returns its parameter count."""
    model = empty_model(library, class_name, folder)
    # Tied copies are not saved (save_pretrained writes UMT5's embedding once, as shared.weight).
    tied = getattr(model, "_tied_weights_keys", None) or {}
    shapes = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items() if name not in tied}
    write_sparse_safetensors(Path(folder) / WEIGHT_FILES[library], shapes, dtype)
    return sum(math.prod(shape) for shape in shapes.values())


def write_hub_folder(repo, dest, dtypes, overrides=None):
    """Copy real_configs/`repo` to `dest` and fill in weights and tokenizer files.

    dtypes: {component (subfolder, or "" for a one-model repository): dtype name}; the
    components named are the ones given weights. overrides: {component: {config key: value}}
    for a smaller variant (the CPU smoke's 2-layer text encoder). Returns {component:
    parameter count}."""
    dest = Path(dest)
    shutil.copytree(REAL_CONFIGS / repo, dest)
    for name, values in (overrides or {}).items():
        config = dest / name / "config.json"
        config.write_text(json.dumps({**json.loads(config.read_text()), **values}, indent=2))
    index = dest / "model_index.json"
    if index.exists():
        components = {name: value for name, value in json.loads(index.read_text()).items()
                      if isinstance(value, list) and value[0]}
    else:
        config = json.loads((dest / "config.json").read_text())
        components = {"": ["diffusers", config["_class_name"]]}
    counts = {}
    for name, (library, class_name) in components.items():
        if name in dtypes:
            counts[name] = write_weights(library, class_name, dest / name, dtypes[name])
        elif class_name == "CLIPTokenizer":
            write_clip_vocabulary(dest / name)
        elif class_name.startswith("T5Tokenizer"):
            t5_style_tokenizer().backend_tokenizer.save(str(dest / name / "tokenizer.json"))
    return counts


def meta_device():
    """A Device on torch's meta device that loads in each backend's half precision, as a
    CUDA GPU does: the weight files are written in that dtype, so loading copies nothing."""
    import torch

    from engine.backends.device import Device

    class MetaDevice(Device):
        def dtype(self, half):
            self.chosen_dtype, self.dtype_reason = half, "the backend's half precision (meta-device check)"
            return getattr(torch, half)

    return MetaDevice("meta", "meta device (no memory)")
