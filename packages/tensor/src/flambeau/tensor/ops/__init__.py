"""The op records, one module per family; importing this package fills ``optable.OPS``."""

from . import (
    bitwise,
    conv,
    creation,
    functional,
    indexing,
    lapack,
    linalg,
    matrix,
    pointwise,
    reduce,
    shape,
    sorting,
)
