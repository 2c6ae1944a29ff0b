"""Plan: what to read for a selection, in pure Python + numpy + h5py.

selection (h5py selections -> per-axis boxes), chunk_index (where each chunk is stored),
filters (HDF5 pipelines -> codec specs), rows (plan rows for the native read), vds (virtual
mappings), sources (where HDF5 finds linked files). Nothing here imports the native extension:
the Face hands in the C planner and chunk scanner as plain functions.
"""
from .rows import ROW_DTYPE, Plan, make_plan
from .selection import NotSimple, Selection, boxed, parse_selection

__all__ = ["ROW_DTYPE", "Plan", "make_plan", "NotSimple", "Selection", "boxed", "parse_selection"]
