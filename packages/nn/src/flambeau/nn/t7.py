"""Torch7 ``.t7`` hooks for flambeau.nn: every module and criterion class, loaded from and saved to Lua's fields.

Importing this module registers, through :func:`flambeau.tensor.register_t7_class`, one hook per
flambeau.nn class under its Torch type name (``"nn.Linear"``, ``"nn.ClassNLLCriterion"``, ...).
``ft.load_t7`` imports it by itself on the first ``nn.`` type name it meets, so a Lua model loads
as flambeau modules, and ``ft.save_t7`` writes flambeau modules back as Lua's classes.

Loading (:func:`from_t7`) maps Torch's field names to flambeau's attributes (``gradWeight`` ->
``grad_weight``, ``kW`` -> ``kw``, ``nInputPlane`` -> ``n_input_plane``, ``dimension`` -> ``dim``,
...), converts 1-based fields (Select/Narrow/Sum/Concat/JoinTable dims and indices, Unsqueeze's
position, Padding's index, SelectTable/NarrowTable, LookupTable's padding index, the connection
tables of SpatialConvolutionMap and PartialLinear's partition) to 0-based ones (negative values,
which count from the end, keep their value), builds the module with its own constructor (so every
buffer flambeau needs exists) and then sets the loaded tensors and settings on it. Saving
(:func:`to_t7`) is the reverse. Buffers of indices that a forward pass recomputes (max-pooling's
``indices``, CMaxTable's ``maxIdx``) are not loaded and are saved empty. A class flambeau does not have
stays a ``T7Object`` on load (no hook).

>>> import flambeau.nn as nn
>>> from flambeau.nn import t7
>>> name, fields = t7.to_t7(nn.Select(1, 0))
>>> name, fields["dimension"], fields["index"]
('nn.Select', 2, 1)
>>> m = t7.from_t7("nn.Select", fields)
>>> type(m).__name__, m.dim, m.index
('Select', 1, 0)
>>> name, fields = t7.to_t7(nn.SpatialConvolution(3, 8, 5, 5, 2, 2, 1, 1))
>>> sorted(k for k in fields if k[0] in "kdpn")
['dH', 'dW', 'kH', 'kW', 'nInputPlane', 'nOutputPlane', 'padH', 'padW']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import flambeau.tensor as ft
from flambeau.tensor import Tensor
from flambeau.tensor.errors import SerializationError
from flambeau.tensor.t7 import is_lua_array

from .criterion import Criterion
from .module import Module

# flambeau attribute -> Torch field, for every class (a name not listed is the same in both).
GLOBAL_NAMES: dict[str, str] = {
    "grad_input": "gradInput",
    "max_idx": "maxIdx",
    "min_idx": "minIdx",
    "grad_weight": "gradWeight",
    "grad_bias": "gradBias",
    "kw": "kW",
    "kh": "kH",
    "kt": "kT",
    "dw": "dW",
    "dh": "dH",
    "dt": "dT",
    "pad_w": "padW",
    "pad_h": "padH",
    "adj_w": "adjW",
    "adj_h": "adjH",
    "dilation_w": "dilationW",
    "dilation_h": "dilationH",
    "iw": "iW",
    "ih": "iH",
    "ow": "oW",
    "oh": "oH",
    "n_input_plane": "nInputPlane",
    "n_output_plane": "nOutputPlane",
    "size_average": "sizeAverage",
    "input_frame_size": "inputFrameSize",
    "output_frame_size": "outputFrameSize",
    "num_input_dims": "numInputDims",
    "n_input_dims": "nInputDims",
    "n_input_dim": "nInputDim",
    "n_output_dim": "nOutputDim",
    "trans_a": "transA",
    "trans_b": "transB",
    "diag_cov": "diagCov",
    "grad_diag_cov": "gradDiagCov",
    "provide_output": "provideOutput",
    "force_copy": "forceCopy",
    "dont_cast": "dontCast",
    "in_type": "intype",
    "out_type": "outtype",
    "min_k": "minK",
    "ignore_index": "ignoreIndex",
    "repeat_target": "repeatTarget",
    "n_classes": "nClasses",
    "n_index": "nIndex",
    "n_output": "nOutput",
    "padding_value": "paddingValue",
    "max_norm": "maxNorm",
    "norm_type": "normType",
    "should_scale_grad_by_freq": "shouldScaleGradByFreq",
    "num_elements": "numElements",
    "batch_mode": "batchMode",
    "conn_table": "connTable",
    "pool_size_w": "poolSizeW",
    "pool_size_h": "poolSizeH",
    "out_w": "outW",
    "out_h": "outH",
    "ratio_w": "ratioW",
    "ratio_h": "ratioH",
    "new_random_pool": "newRandomPool",
    "random_samples": "randomSamples",
    "lambda_": "lambda",
    "out_device": "outdevice",
}

_DIMENSION = {"dim": "dimension"}
_VOLUMETRIC = {"pad_t": "padT", "dilation_t": "dilationT", "adj_t": "adjT"}

# Per class: flambeau attribute -> Torch field where it differs from GLOBAL_NAMES.
CLASS_NAMES: dict[str, dict[str, str]] = {
    "Select": _DIMENSION,
    "Narrow": {"dim": "dimension", "offset": "index"},
    "Concat": _DIMENSION,
    "DepthConcat": _DIMENSION,
    "Sum": _DIMENSION,
    "Mean": _DIMENSION,
    "Max": _DIMENSION,
    "Min": _DIMENSION,
    "SplitTable": _DIMENSION,
    "JoinTable": _DIMENSION,
    "Index": _DIMENSION,
    "Parallel": {"input_dim": "inputDimension", "output_dim": "outputDimension"},
    "Replicate": {"n_features": "nfeatures"},
    "Clamp": {"min_value": "min_val", "max_value": "max_val"},
    "SpatialAdaptiveMaxPooling": {"w": "W", "h": "H"},
    "VolumetricConvolution": _VOLUMETRIC,
    "VolumetricDilatedConvolution": _VOLUMETRIC,
    "VolumetricFullConvolution": _VOLUMETRIC,
    "VolumetricMaxPooling": _VOLUMETRIC,
    "VolumetricDilatedMaxPooling": _VOLUMETRIC,
    "VolumetricAveragePooling": _VOLUMETRIC,
}

# Per class: the flambeau attributes that Torch counts from 1 (positive values shift by one).
ONE_BASED: dict[str, tuple[str, ...]] = {
    "Select": ("dim", "index"),
    "Narrow": ("dim", "offset"),
    "Concat": ("dim",),
    "DepthConcat": ("dim",),
    "Parallel": ("input_dim", "output_dim"),
    "Sum": ("dim",),
    "Mean": ("dim",),
    "Max": ("dim",),
    "Min": ("dim",),
    "SplitTable": ("dim",),
    "JoinTable": ("dim",),
    "Index": ("dim",),
    "Replicate": ("dim",),
    "Squeeze": ("dim",),
    "Unsqueeze": ("pos",),
    "Padding": ("dim", "index"),
    "SelectTable": ("index",),
    "NarrowTable": ("offset",),
    "MixtureTable": ("dim",),
}

# Tensors of 1-based indices held as settings (shifted by one both ways).
INDEX_TENSORS: dict[str, tuple[str, ...]] = {
    "SpatialConvolutionMap": ("conn_table",),
    "SpatialFullConvolutionMap": ("conn_table",),
    "PartialLinear": ("partition",),
}

# Buffers of indices a forward pass recomputes: not loaded, and saved empty.
RECOMPUTED = frozenset({"indices", "max_idx", "min_idx", "maxIdx", "minIdx"})

# Fields of Torch's that flambeau has no use for (types, cuDNN/cutorch handles, Lua closures).
_TORCH_ONLY = frozenset({"_type", "_input", "_gradOutput", "updateOutput", "updateGradInput", "accGradParameters"})


def _shift_in(v: Any) -> Any:
    """A Torch 1-based value as flambeau's 0-based one (negative and non-integer values as they are)."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v - 1
    return v


def _shift_out(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v + 1
    return v


def _ints(v: Any, what: str) -> tuple[int, ...]:
    """A size (a LongStorage, a tensor, a list or a number) as a tuple of ints."""
    if isinstance(v, (ft.Storage, Tensor)):
        v = v.tolist()
    elif isinstance(v, dict):
        v = _as_list(v, what)
    if isinstance(v, (int, float)):
        v = [v]
    try:
        return tuple(int(x) for x in v)
    except (TypeError, ValueError):
        raise SerializationError(f"{what}: expected a size (a LongStorage or a list of numbers), got {v!r}") from None


def _as_list(v: Any, what: str) -> list[Any]:
    """A decoded Lua array (a list, or a dict keyed 1..n, or an empty dict) as a list."""
    if isinstance(v, list):
        return v
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, dict):
        if is_lua_array(v):
            return [v[i] for i in range(1, len(v) + 1)]
    raise SerializationError(f"{what}: expected a Lua array (keys 1..n), got {type(v).__name__}")


def _long_storage(sizes: Any) -> Any:
    return ft.LongStorage([int(s) for s in sizes])


def _coerce(value: Any, like: Any) -> Any:
    """Torch's numbers are doubles: give back an int where flambeau keeps an int (or None), a float where a float."""
    if isinstance(value, bool) or isinstance(like, bool):
        return value
    if isinstance(value, float) and value.is_integer() and (like is None or type(like) is int):
        return int(value)
    if type(value) is int and type(like) is float:
        return float(value)
    return value


def _coerce_arg(value: Any, annotation: Any) -> Any:
    """A constructor argument from a Torch number, as the parameter's annotation asks (``int``, ``float``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(annotation, str):
        return value
    kinds = {part.strip() for part in annotation.split("|")}
    if "int" in kinds and "float" not in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    if "float" in kinds and "int" not in kinds:
        return float(value)
    return value


# --------------------------------------------------------------------------------------------------
# Constructor arguments for the classes whose constructor takes what Torch does not store as fields.


def _weight(a: dict[str, Any], cls: str) -> Tensor:
    w = a.get("weight")
    if not isinstance(w, Tensor):
        raise SerializationError(f"nn.{cls}: expected a 'weight' tensor field, got {type(w).__name__}")
    return w


def _has_bias(a: dict[str, Any], cls: str) -> bool:
    """Whether the module has a bias (Torch's ``noBias()`` modules have no field): a tensor or nothing."""
    b = a.get("bias")
    if b is not None and not isinstance(b, Tensor):
        raise SerializationError(f"nn.{cls}: field 'bias' must be a tensor or absent, got {type(b).__name__}")
    return b is not None


def _modules(a: dict[str, Any], cls: str) -> list[Any]:
    mods = a.get("modules")
    if not mods:
        mod = a.get("module")
        if isinstance(mod, (Module, Criterion)):
            return [mod]
        raise SerializationError(f"nn.{cls}: expected a 'modules' field holding the wrapped module")
    return mods


def _frac_args(a: dict[str, Any]) -> tuple[Any, ...]:
    if a.get("out_w") is not None:
        return (a["pool_size_w"], a["pool_size_h"], a["out_w"], a["out_h"])
    return (a["pool_size_w"], a["pool_size_h"], a["ratio_w"], a["ratio_h"])


Builder = Callable[[dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]

BUILDERS: dict[str, Builder] = {
    "Linear": lambda a: ((_weight(a, "Linear").size(1), a["weight"].size(0), _has_bias(a, "Linear")), {}),
    "SparseLinear": lambda a: ((_weight(a, "SparseLinear").size(1), a["weight"].size(0)), {}),
    "Bilinear": lambda a: (
        (_weight(a, "Bilinear").size(1), a["weight"].size(2), a["weight"].size(0), _has_bias(a, "Bilinear")),
        {},
    ),
    "PartialLinear": lambda a: (
        (_weight(a, "PartialLinear").size(1), a["weight"].size(0), _has_bias(a, "PartialLinear")),
        {},
    ),
    "Add": lambda a: (
        (tuple(a["bias"].size()) if a["bias"].dim() > 1 else a["bias"].nelement(),),
        {"scalar": bool(a.get("scalar", False))},
    ),
    "CMul": lambda a: (tuple(_weight(a, "CMul").size()), {}),
    "Euclidean": lambda a: ((_weight(a, "Euclidean").size(0), a["weight"].size(1)), {}),
    "WeightedEuclidean": lambda a: ((_weight(a, "WeightedEuclidean").size(0), a["weight"].size(1)), {}),
    "Cosine": lambda a: ((_weight(a, "Cosine").size(1), a["weight"].size(0)), {}),
    "LookupTable": lambda a: ((_weight(a, "LookupTable").size(0), a["weight"].size(1)), {}),
    "View": lambda a: (_ints(a["size"], "nn.View size"), {}),
    "Reshape": lambda a: (_ints(a["size"], "nn.Reshape size"), {"batch_mode": a.get("batch_mode")}),
    "Transpose": lambda a: (tuple(a.get("permutations", ())), {}),
    "Power": lambda a: ((a["pow"],), {}),
    "PairwiseDistance": lambda a: ((a.get("norm", 2),), {}),
    "SpatialUpSamplingNearest": lambda a: ((a["scale_factor"],), {}),
    "SpatialUpSamplingBilinear": lambda a: (
        (_coerce(a.get("scale_factor"), None),),
        {"oheight": a.get("oheight"), "owidth": a.get("owidth")},
    ),
    "MapTable": lambda a: ((_modules(a, "MapTable")[0],), {"share": a.get("shared", True)}),
    "Bottle": lambda a: ((_modules(a, "Bottle")[0],), {}),
    "GPU": lambda a: ((_modules(a, "GPU")[0], a.get("device", "cpu")), {}),
    "SpatialMaxUnpooling": lambda a: ((a["pooling"],), {}),
    "VolumetricMaxUnpooling": lambda a: ((a["pooling"],), {}),
    "SpatialFractionalMaxPooling": lambda a: (_frac_args(a), {}),
    "Dropout": lambda a: ((), {"v1": not a.get("v2", False)}),  # no v2 field: a Dropout from before v2
    "HardTanh": lambda a: ((a.get("min_val", -1.0), a.get("max_val", 1.0)), {}),
    "WeightedMSECriterion": lambda a: ((a["weight"],), {}),
    "BatchNormalization": lambda a: ((_bn_size(a, "BatchNormalization"),), {}),
    "SpatialBatchNormalization": lambda a: ((_bn_size(a, "SpatialBatchNormalization"),), {}),
    "VolumetricBatchNormalization": lambda a: ((_bn_size(a, "VolumetricBatchNormalization"),), {}),
    "CrossEntropyCriterion": lambda a: ((), _cross_entropy_args(a)),
}


def _bn_size(a: dict[str, Any], cls: str) -> int:
    for name in ("running_mean", "weight", "running_var", "running_std"):
        t = a.get(name)
        if isinstance(t, Tensor):
            return t.nelement()
    raise SerializationError(f"nn.{cls}: expected a 'running_mean' tensor field")


def _cross_entropy_args(a: dict[str, Any]) -> dict[str, Any]:
    nll = a.get("nll")
    if nll is None:
        return {}
    return {
        "weights": getattr(nll, "weights", None),
        "size_average": getattr(nll, "size_average", True),
        "ignore_index": getattr(nll, "ignore_index", -100),
    }


# --------------------------------------------------------------------------------------------------
# Loading.


def _names(cls_name: str) -> dict[str, str]:
    names = dict(GLOBAL_NAMES)
    names.update(CLASS_NAMES.get(cls_name, {}))
    return names


def _fields_in(cls_name: str, fields: dict[Any, Any]) -> dict[str, Any]:
    """Torch's fields under flambeau's names, 1-based values made 0-based."""
    back = {t: a for a, t in _names(cls_name).items()}
    attrs: dict[str, Any] = {}
    for key, v in fields.items():
        if not isinstance(key, str) or key in _TORCH_ONLY or key in RECOMPUTED:
            continue
        attrs[back.get(key, key)] = v
    for name in ONE_BASED.get(cls_name, ()):
        if name in attrs:
            attrs[name] = _shift_in(attrs[name])
    for name in INDEX_TENSORS.get(cls_name, ()):
        t = attrs.get(name)
        if isinstance(t, Tensor):
            attrs[name] = t.long() - 1
    for name in ("modules", "criterions"):
        if name in attrs:
            attrs[name] = _as_list(attrs[name], f"nn.{cls_name} {name}")
    if cls_name == "Transpose" and "permutations" in attrs:
        perms = _as_list(attrs["permutations"], "nn.Transpose permutations")
        attrs["permutations"] = [tuple(_shift_in(d) for d in _as_list(p, "nn.Transpose permutation")) for p in perms]
    if cls_name == "LookupTable" and "padding_value" in attrs:
        pv = attrs["padding_value"]
        attrs["padding_value"] = None if not pv else _shift_in(pv)  # Torch's 0 means none
    if cls_name in ("View", "Reshape") and "size" in attrs:
        attrs["size"] = _ints(attrs["size"], f"nn.{cls_name} size")
    if cls_name == "MultiCriterion" and "weights" in attrs:
        attrs["weights"] = [float(w) for w in _ints_or_floats(attrs["weights"])]
    if cls_name == "ParallelCriterion" and "weights" in attrs:
        attrs["weights"] = _as_list(attrs["weights"], "nn.ParallelCriterion weights")
    if cls_name == "GPU":
        for name in ("device", "out_device"):
            d = attrs.get(name)
            if isinstance(d, (int, float)) and not isinstance(d, bool):
                attrs[name] = f"cuda:{int(d) - 1}"  # Torch's GPU ids count from 1
    if cls_name == "Copy":
        if isinstance(attrs.get("grad_input"), Tensor):
            attrs.setdefault("in_type", attrs["grad_input"].type())
        if isinstance(attrs.get("output"), Tensor):
            attrs.setdefault("out_type", attrs["output"].type())
        for name in ("in_type", "out_type"):
            if isinstance(attrs.get(name), str):
                attrs[name] = attrs[name].replace("torch.", "flambeau.", 1)
    if "running_std" in attrs and "running_var" not in attrs:  # BatchNormalization before 2016
        std = attrs.pop("running_std")
        eps = float(attrs.get("eps", 1e-5))
        attrs["running_var"] = std.pow(-2).add(-eps)
    return attrs


def _ints_or_floats(v: Any) -> list[Any]:
    if isinstance(v, (ft.Storage, Tensor)):
        return list(v.tolist())
    return _as_list(v, "weights")


def _construct(cls: type, attrs: dict[str, Any]) -> Any:
    name = cls.__name__
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    build = BUILDERS.get(name)
    try:
        if build is not None:
            args, kwargs = build(attrs)
        params = list(inspect.signature(cls).parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        args = (
            tuple(_coerce_arg(v, p.annotation) for v, p in zip(args, positional, strict=False))
            + args[len(positional) :]
        )
        taken = {p.name for p in positional[: len(args)]}
        by_name = {p.name: p for p in params}
        kwargs = {k: _coerce_arg(v, by_name[k].annotation) if k in by_name else v for k, v in kwargs.items()}
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in taken or p.name in kwargs:
                continue
            if p.name in attrs and attrs[p.name] is not None:
                kwargs[p.name] = _coerce_arg(attrs[p.name], p.annotation)
            elif p.default is p.empty:
                torch_name = _names(name).get(p.name, p.name)
                raise SerializationError(f"nn.{name}: the field {torch_name!r} is missing")
        return cls(*args, **kwargs)
    except SerializationError:
        raise
    except KeyError as e:
        torch_name = _names(name).get(str(e.args[0]), str(e.args[0]))
        raise SerializationError(f"nn.{name}: the field {torch_name!r} is missing") from None
    except Exception as e:
        raise SerializationError(f"nn.{name}: cannot build the module from its Torch fields: {e}") from e


def from_t7(typename: str, fields: dict[Any, Any]) -> Any:
    """The flambeau module or criterion for a Torch object of class ``typename`` with ``fields``.

    Parameters
    ----------
    typename : str
        Torch's class name, ``"nn.<Class>"``, naming a flambeau.nn class.
    fields : dict
        The object's Lua table as ``load_t7`` decodes it (Torch's names, 1-based values).

    Returns
    -------
    Module or Criterion
        Built with the class's constructor, then given the loaded tensors and settings.

    Raises
    ------
    SerializationError
        When flambeau.nn has no such class, a field the module needs is missing, or a parameter
        has the wrong number of elements.

    Examples
    --------
    >>> import flambeau.tensor as ft
    >>> from flambeau.nn import t7
    >>> w = ft.arange(6).view(2, 3).double()
    >>> m = t7.from_t7("nn.Linear", {"weight": w, "bias": ft.zeros(2), "gradWeight": ft.zeros(2, 3),
    ...                               "gradBias": ft.zeros(2), "train": False})
    >>> m, m.weight is w, m.train
    (nn.Linear(3 -> 2), True, False)
    """
    name = typename.removeprefix("nn.")
    cls = CLASSES.get(name)
    if cls is None:
        raise SerializationError(f"{typename}: flambeau.nn has no class of this name")
    if name == "SpatialLPPooling":
        return _lp_pooling_in(fields)
    attrs = _fields_in(name, fields)
    obj = _construct(cls, attrs)
    state = obj.__dict__
    for key, v in attrs.items():
        if key not in state or key in RECOMPUTED:
            continue
        old = state[key]
        if isinstance(old, list) and isinstance(v, dict):  # an empty Lua table, or one keyed 1..n
            v = _as_list(v, f"{typename} {key}")
        if isinstance(old, Tensor) and isinstance(v, Tensor) and key in ("weight", "bias", "grad_weight", "grad_bias"):
            if old.nelement() != v.nelement():
                raise SerializationError(
                    f"{typename}: field {key!r} has {v.nelement()} elements where the module needs {tuple(old.size())}"
                )
            if tuple(old.size()) != tuple(v.size()):  # e.g. SpatialConvolutionMM's 2-D weight
                v = v.contiguous().view(*old.size())
        state[key] = _coerce(v, old)
    return obj


def _lp_pooling_in(fields: dict[Any, Any]) -> Any:
    """Torch's SpatialLPPooling is a Sequential (Power or Square, SpatialAveragePooling, Power or Sqrt)."""
    mods = _as_list(fields.get("modules", []), "nn.SpatialLPPooling modules")
    if len(mods) != 3:
        raise SerializationError(f"nn.SpatialLPPooling: expected 3 modules (power, pooling, root), got {len(mods)}")
    first = mods[0]
    pnorm = 2.0 if type(first).__name__ == "Square" else float(getattr(first, "pow", 2.0))
    pool = mods[1]
    kw = int(fields.get("kW", pool.kw))
    kh = int(fields.get("kH", pool.kh))
    n_input_plane = int(fields.get("nInputPlane", 0))  # flambeau's own field; Torch's class keeps none
    m = CLASSES["SpatialLPPooling"](
        n_input_plane, pnorm, kw, kh, int(fields.get("dW", pool.dw)), int(fields.get("dH", pool.dh))
    )
    for key, attr in (("output", "output"), ("gradInput", "grad_input"), ("train", "train")):
        if key in fields:
            m.__dict__[attr] = fields[key]
    return m


# --------------------------------------------------------------------------------------------------
# Saving.


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _torch_name(obj: Any) -> str:
    for klass in type(obj).__mro__:
        if CLASSES.get(klass.__name__) is klass:
            return klass.__name__
    raise SerializationError(f"save_t7: {type(obj).__name__} is not a flambeau.nn class")


def to_t7(obj: Any) -> tuple[str, dict[str, Any]]:
    """``(typename, fields)``: a flambeau module or criterion as Torch's class name and Lua fields.

    Parameters
    ----------
    obj : Module or Criterion
        An instance of a flambeau.nn class (or of a subclass: it is written as its nearest flambeau.nn class).

    Returns
    -------
    (str, dict)
        ``"nn.<Class>"`` and the fields under Torch's names, 1-based where Torch counts from 1;
        nested modules stay objects (``save_t7`` writes them through their own hooks).

    Examples
    --------
    >>> import flambeau.nn as nn
    >>> from flambeau.nn import t7
    >>> name, fields = t7.to_t7(nn.View(784))
    >>> name, fields["size"].tolist(), fields["numElements"]
    ('nn.View', [784], 784)
    """
    name = _torch_name(obj)
    if name == "SpatialLPPooling":
        return _lp_pooling_out(obj)
    names = _names(name)
    one_based = ONE_BASED.get(name, ())
    index_tensors = INDEX_TENSORS.get(name, ())
    fields: dict[str, Any] = {}
    for key, v in obj.__dict__.items():
        if key.startswith("_"):
            continue
        if key in RECOMPUTED:  # Lua's code may use the buffer without creating it: an empty one of its type
            v = ft.Tensor().type(v.type()) if isinstance(v, Tensor) else None
        if key in one_based:
            v = _shift_out(v)
        elif key in index_tensors and isinstance(v, Tensor):
            v = v.long() + 1
        if v is None:
            continue  # Lua's nil: the field is absent
        fields[names.get(key, key)] = _plain(v)
    _extras_out(name, obj, fields)
    return f"nn.{name}", fields


def _extras_out(name: str, obj: Any, fields: dict[str, Any]) -> None:
    """Fields Torch's Lua code reads that flambeau keeps differently or not at all."""
    d = obj.__dict__
    if name in ("View", "Reshape"):
        fields["size"] = _long_storage(d["size"])
    if name == "Reshape":
        fields["batchsize"] = _long_storage((1, *d["size"]))
    if name == "CMul":
        fields["size"] = _long_storage(obj.weight.size())
    if name == "Transpose":
        fields["permutations"] = [[_shift_out(a) for a in p] for p in d["permutations"]]
    if name == "LookupTable":
        pv = d.get("padding_value")
        fields["paddingValue"] = 0 if pv is None else _shift_out(pv)
    if name in ("MapTable", "Bottle", "GPU") and d.get("modules"):
        fields["module"] = d["modules"][0]
    if name == "CrossEntropyCriterion":
        fields.setdefault("lsm", CLASSES["LogSoftMax"]())
    if name == "MultiCriterion":
        fields["weights"] = ft.DoubleStorage([float(w) for w in d.get("weights", [])])
    if name == "Dropout":
        fields["v2"] = bool(d.get("v2", True))
    if name == "Copy":
        for key in ("intype", "outtype"):
            if isinstance(fields.get(key), str):
                fields[key] = fields[key].replace("flambeau.", "torch.", 1)
    if name == "GPU":
        for key in ("device", "outdevice"):
            dev = fields.get(key)
            if isinstance(dev, str) and dev.startswith("cuda"):
                fields[key] = int(dev.partition(":")[2] or 0) + 1


def _lp_pooling_out(obj: Any) -> tuple[str, dict[str, Any]]:
    p = float(obj.pnorm)
    first = CLASSES["Square"]() if p == 2 else CLASSES["Power"](p)
    last = CLASSES["Sqrt"]() if p == 2 else CLASSES["Power"](1.0 / p)
    pool = CLASSES["SpatialAveragePooling"](obj.kw, obj.kh, obj.dw, obj.dh)
    fields = {
        "modules": [first, pool, last],
        "nInputPlane": obj.n_input_plane,
        "kW": obj.kw,
        "kH": obj.kh,
        "dW": obj.dw,
        "dH": obj.dh,
        "output": obj.output,
        "gradInput": obj.grad_input,
        "train": obj.train,
    }
    return "nn.SpatialLPPooling", fields


# --------------------------------------------------------------------------------------------------
# Registration.


def _all_classes() -> dict[str, type]:
    found: dict[str, type] = {}

    def walk(c: type) -> None:
        s: type
        for s in c.__subclasses__():
            if s.__module__.startswith("flambeau.nn.") and not s.__name__.startswith("_"):
                found.setdefault(s.__name__, s)
            walk(s)

    found["Module"] = Module
    found["Criterion"] = Criterion
    walk(Module)
    walk(Criterion)
    return found


CLASSES: dict[str, type] = {}


def register() -> list[str]:
    """Register a load and a save hook for every flambeau.nn class; returns their Torch type names.

    Runs when this module is imported; call it again after defining classes later (it is idempotent).
    """
    from flambeau.tensor import register_t7_class

    CLASSES.update(_all_classes())
    names = []
    for name, cls in sorted(CLASSES.items()):
        typename = f"nn.{name}"
        register_t7_class(typename, load=_loader(typename), save=(cls, to_t7))
        names.append(typename)
    return names


def _loader(typename: str) -> Callable[[dict[Any, Any]], Any]:
    def load(fields: dict[Any, Any]) -> Any:
        return from_t7(typename, fields)

    return load


register()

__all__ = ["from_t7", "register", "to_t7"]
