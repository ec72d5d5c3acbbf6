"""The op records, one module per family; importing this package fills ``optable.OPS``."""

from . import creation, indexing, linalg, pointwise, reduce, shape
