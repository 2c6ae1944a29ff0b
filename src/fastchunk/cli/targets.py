"""What a name on the command line leads to, and every dataset below a group.

A name that leads nowhere is an error of the command (exit status 2), a group is walked (every
dataset below it, and every external link: DECTRIS masters link their data files that way,
HDF5's visit does not follow them, and a dangling one is a finding), and where a command needs
a stack of frames, a group or a scalar is refused with one line saying what it is.
"""
import posixpath

import h5py

from ..libhdf5 import H5_LOCK


class TargetError(ValueError):
    """The named object is missing or not what the command needs (exit status 2)."""


def link_of(f, name):
    """h5py's link object for name (HardLink, SoftLink, ExternalLink); TargetError if none."""
    if name.strip("/") == "":
        return h5py.HardLink()
    try:
        link = f.get(name, getlink=True)
    except (KeyError, RuntimeError):  # a path through something that is not a group
        link = None
    if link is None:
        raise TargetError(f"{f.filename}: no object named {name}")
    return link


def kind_of(f, name):
    """'group', 'dataset', 'external link' or 'soft link' (HDF5's view, without opening it)."""
    link = link_of(f, name)
    if isinstance(link, h5py.ExternalLink):
        return "external link"
    with H5_LOCK:
        cls = f.h5.get(name, getclass=True) if name.strip("/") else h5py.Group
    if cls is None:
        return "soft link"  # dangling
    return "group" if issubclass(cls, h5py.Group) else "dataset" if issubclass(cls, h5py.Dataset) else "object"


def walk(f, root="/"):
    """Absolute names of the datasets and external links at or below root, in HDF5's order.
    Soft links are left out (their targets are listed where they live)."""
    absolute = posixpath.normpath("/" + root.lstrip("/"))
    if kind_of(f, root) != "group":
        return [absolute]
    base = "" if absolute == "/" else absolute
    names = []
    with H5_LOCK:
        group = f.h5[root]
        visit_links = getattr(group, "visititems_links", None)
        if visit_links is None:  # h5py < 3.11: datasets only
            group.visititems(lambda n, o: names.append(f"{base}/{n}") if isinstance(o, h5py.Dataset) else None)
            return names

        def visit(name, link):
            if isinstance(link, h5py.ExternalLink) or (
                    isinstance(link, h5py.HardLink) and isinstance(group.get(name), h5py.Dataset)):
                names.append(f"{base}/{name}")
        visit_links(visit)
    return names


def expand(f, names):
    """The names a command checks: each name, or every dataset below it if it is a group;
    TargetError for a name that does not exist."""
    out = []
    for name in names:
        out.extend(walk(f, name))
    return out


def describe(obj):
    """A few words on what obj is: 'a group with 3 members', 'a scalar dataset (float64)', ..."""
    if not hasattr(obj, "dtype"):
        return f"a group with {len(obj)} members"
    if obj.shape is None:
        return f"a dataset with a null dataspace (h5py.Empty, {obj.dtype}): no data"
    if obj.shape == ():
        return f"a scalar dataset ({obj.dtype}, one value)"
    return f"a {len(obj.shape)}-D dataset {tuple(obj.shape)} {obj.dtype}"


def frame_stack(f, name):
    """The dataset at name if it is a stack of frames (at least 1-D, with frames along its
    first axis); else TargetError saying what it is and what bench needs."""
    link_of(f, name)
    obj = f[name]
    need = "bench needs a dataset of frames stacked along its first axis (at least 1-D, not empty)"
    if not hasattr(obj, "dtype"):
        below = walk(f, name)[:3]
        hint = f"; datasets below it: {', '.join(below)}" if below else ""
        raise TargetError(f"{name} in {f.filename} is {describe(obj)}; {need}{hint}")
    if obj.shape is None or obj.shape == () or obj.shape[0] == 0:
        what = describe(obj) if obj.shape is None or obj.shape == () else f"{describe(obj)} with no frames"
        raise TargetError(f"{name} in {f.filename} is {what}; {need}")
    return obj
