"""Plain data across the wall between the student's kernel and the grader: JSON, never pickle.

What the kernel sends back (return values, variables, arguments as a call left them) is encoded
here into tagged JSON: None, bools, ints, floats, strings, lists, tuples, dicts, numpy arrays and
scalars of numeric dtypes, torch tensors. Anything else becomes a `ref`: a numbered handle to an
object that stays in the kernel. The grader decodes with `decode(..., allow_pickle=False)`, which
can only build those plain types, so no byte the student controls ever becomes code or an object
of the student's choosing in the grader.

The grader's messages to the kernel use the same format, plus pickled objects (course objects,
torch modules) as arguments: the kernel may unpickle what the grader sends, never the reverse.
"""

from __future__ import annotations

import base64
import math
import pickle
import time
from collections import Counter
from typing import Any, Callable

import numpy as np

MAX_DEPTH = 64
MAX_NODES = 1_000_000  # values in one decoded message (an array is one)
MAX_DICT_ITEMS = 100_000
# keys of one dict with one hash; Python's own str hashes almost never collide
MAX_COLLIDING_KEYS = 16
MAX_DECODE_SECONDS = 10.0
# Kinds of numpy data that cross: bool, signed and unsigned ints, floats, complex (no objects, no
# strings).
NUMERIC_KINDS = "biufc"
TORCH_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                "float32", "float64", "complex64", "complex128"]


class CodecError(ValueError):
    """Data that is not in the plain format (too deep, unknown tag, bad array)."""


def _torch():
    import torch  # only when a tensor crosses: plain answers do not pay for importing torch

    return torch


def _is_tensor(obj: Any) -> bool:
    return (type(obj).__module__.startswith("torch")
            and type(obj).__name__ in ("Tensor", "Parameter"))


def _is_module(obj: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _array(obj: np.ndarray) -> dict:
    array = np.ascontiguousarray(obj).reshape(np.shape(obj))  # ascontiguousarray turns 0-d into 1-d
    return {"__t": "nd", "dtype": array.dtype.str, "shape": list(array.shape),
            "b64": base64.b64encode(array.tobytes()).decode()}


def _tensor(obj: Any) -> dict:
    tensor = obj.detach().cpu().contiguous()
    dtype = str(tensor.dtype).removeprefix("torch.")
    # bfloat16 has no numpy twin: it crosses as float32 and is cast back.
    data = tensor.float().numpy() if dtype == "bfloat16" else tensor.numpy()
    encoded = {**_array(data), "__t": "pt", "dtype": dtype, "grad": bool(obj.requires_grad)}
    if obj.grad is not None:
        encoded["g"] = _tensor(obj.grad)
    return encoded


def encode(obj: Any, *, refs: Callable[[Any], int | None] | None = None, pickle_ok: bool = False,
           depth: int = 0) -> Any:
    """`obj` as JSON-ready data. Other objects become `ref`s (when `refs` gives handles) or pickles
    (when allowed)."""
    if depth > MAX_DEPTH:
        raise CodecError("the value is nested too deeply")
    again = lambda x: encode(x, refs=refs, pickle_ok=pickle_ok, depth=depth + 1)  # noqa: E731
    if obj is None or type(obj) in (bool, int, str):
        return obj
    if type(obj) is float:
        return {"__t": "float", "v": repr(obj)}  # repr keeps nan, inf and every digit
    if type(obj) is complex:
        return {"__t": "complex", "v": [repr(obj.real), repr(obj.imag)]}
    if type(obj) is list:
        return [again(x) for x in obj]
    if type(obj) is tuple:
        return {"__t": "tuple", "v": [again(x) for x in obj]}
    if type(obj) is dict:
        return {"__t": "dict", "v": [[again(k), again(v)] for k, v in obj.items()]}
    if isinstance(obj, np.ndarray) and obj.dtype.kind in NUMERIC_KINDS:
        return _array(obj)
    if isinstance(obj, np.generic) and obj.dtype.kind in NUMERIC_KINDS:
        return {**_array(np.asarray(obj)), "__t": "np"}
    if _is_tensor(obj):
        return _tensor(obj)
    if refs is not None and (handle := refs(obj)) is not None:
        return {"__t": "ref", "id": handle, "type": type(obj).__name__}
    if pickle_ok:  # pickling drops gradients: they travel beside the object
        grads = ({n: _tensor(p.grad) for n, p in obj.named_parameters() if p.grad is not None}
                 if _is_module(obj) else {})
        return {"__t": "pickle", "b64": base64.b64encode(pickle.dumps(obj)).decode(),
                "grads": grads}
    raise CodecError(f"cannot send a {type(obj).__name__}")


def _decode_array(data: dict) -> np.ndarray:
    dtype = np.dtype(str(data["dtype"]))
    if dtype.kind not in NUMERIC_KINDS:
        raise CodecError(f"arrays of dtype {dtype} do not cross")
    shape = tuple(int(n) for n in data["shape"])
    raw = base64.b64decode(str(data["b64"]), validate=True)
    # Python's integers, not numpy's: a shape whose product overflows int64 must not wrap to a
    # small size.
    if (len(shape) > 32 or any(n < 0 for n in shape)
            or len(raw) != dtype.itemsize * math.prod(shape)):
        raise CodecError("an array's bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


class _Budget:
    """What one decoded value may cost the grader: a node count and a time, checked as decoding goes
    (a reply is untrusted input; its size is capped before it arrives, its shape here)."""

    def __init__(self):
        self.nodes, self.deadline = 0, time.monotonic() + MAX_DECODE_SECONDS

    def spend(self, depth: int) -> None:
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise CodecError("the value is nested too deeply")
        if self.nodes > MAX_NODES:
            raise CodecError(f"the value has more than {MAX_NODES} parts")
        if self.nodes % 1024 == 0 and time.monotonic() > self.deadline:
            raise CodecError(f"the value took more than {MAX_DECODE_SECONDS:g} s to read")


def _dict(pairs: list[tuple]) -> dict:
    """A dict from decoded pairs, refusing keys whose hashes collide: each collision makes every
    later insertion slower, so 20,000 colliding keys alone would take seconds to build."""
    if not all(isinstance(k, (type(None), bool, int, float, str, tuple)) for k, _ in pairs):
        raise CodecError("dict keys must be numbers, strings or tuples")
    if len(pairs) > MAX_DICT_ITEMS:
        raise CodecError(f"a dict of more than {MAX_DICT_ITEMS} items")
    hashes = Counter(hash(k) for k, _ in pairs)
    if hashes and max(hashes.values()) > MAX_COLLIDING_KEYS:
        raise CodecError("a dict whose keys' hashes collide")
    return dict(pairs)


def decode(data: Any, *, ref: Callable[[dict], Any] | None = None,
           allow_pickle: bool = False) -> Any:
    """The value `encode` made. `ref` turns a handle into an object; pickles load only when allowed.

    Bounded: CodecError beyond MAX_DEPTH levels, MAX_NODES parts, MAX_DECODE_SECONDS or a dict whose
    keys collide, so that no reply can hold the grader for long."""
    return _decode(data, ref, allow_pickle, _Budget(), 0)


def _decode(data: Any, ref, allow_pickle: bool, budget: _Budget, depth: int) -> Any:
    budget.spend(depth)
    again = lambda x: _decode(x, ref, allow_pickle, budget, depth + 1)  # noqa: E731
    if data is None or type(data) in (bool, int, str):
        return data
    if type(data) is list:
        return [again(x) for x in data]
    if type(data) is not dict or not isinstance(data.get("__t"), str):
        raise CodecError(f"unexpected {type(data).__name__} in the data")
    tag = data["__t"]
    if tag == "float":
        return float(str(data["v"]))
    if tag == "complex":
        real, imag = data["v"]
        return complex(float(str(real)), float(str(imag)))
    if tag == "tuple":
        return tuple(again(x) for x in data["v"])
    if tag == "dict":
        return _dict([(again(k), again(v)) for k, v in data["v"]])
    if tag == "nd":
        return _decode_array(data)
    if tag == "np":
        return _decode_array(data)[()]
    if tag == "pt":
        torch = _torch()
        dtype = str(data["dtype"])
        if dtype not in TORCH_DTYPES:
            raise CodecError(f"tensors of dtype {dtype} do not cross")
        tensor = torch.from_numpy(_decode_array(data)).to(getattr(torch, dtype))
        tensor.requires_grad_(bool(data.get("grad")) and tensor.is_floating_point())
        if "g" in data and tensor.requires_grad:
            tensor.grad = again(data["g"]).reshape(tensor.shape).to(tensor.dtype)
        return tensor
    if tag == "ref" and ref is not None:
        return ref(data)
    # only ever the grader's own objects, on their way to the kernel
    if tag == "pickle" and allow_pickle:
        obj = pickle.loads(base64.b64decode(data["b64"]))
        for name, parameter in obj.named_parameters() if data.get("grads") else ():
            if name in data["grads"]:
                parameter.grad = again(data["grads"][name])
        return obj
    raise CodecError(f"unknown or forbidden tag {tag!r}")
