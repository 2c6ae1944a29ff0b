"""Where HDF5 looks for the file behind a VDS source or an external link, in HDF5's order.

HDF5 (H5F_prefix_open_file) tries, for a target name T seen from a parent file P:
  1. T itself if it is absolute (if that fails, only its last component is used below);
  2. each entry of the environment prefix (HDF5_VDS_PREFIX or HDF5_EXT_PREFIX, ':'-separated)
     joined with T; for HDF5_VDS_PREFIX, ${ORIGIN} means P's directory, but only at the very
     start of the value (seen with HDF5 2.0: "/x:${ORIGIN}/sub" does not expand it, and
     HDF5_EXT_PREFIX does not expand it at all);
  3. the prefix set on the access property list (fastchunk never sets one);
  4. P's directory as P was opened (made absolute);
  5. T relative to the current directory;
  6. the directory of P's real path (symlinks resolved).
The first candidate that exists and is an HDF5 file wins.
"""
import os

import h5py

VDS_PREFIX = "HDF5_VDS_PREFIX"
EXT_PREFIX = "HDF5_EXT_PREFIX"


def candidates(target, parent, env_var):
    """Paths HDF5 would try for target seen from parent file, in order (may repeat)."""
    parent_dir = os.path.dirname(os.path.abspath(parent))
    out = []
    name = target
    if os.path.isabs(target):
        out.append(target)
        name = os.path.basename(target)
    env = os.environ.get(env_var, "")
    if env_var == VDS_PREFIX and env.startswith("${ORIGIN}"):  # only there, not after a ':'
        env = parent_dir + env[len("${ORIGIN}"):]
    for prefix in filter(None, env.split(":")):
        out.append(os.path.join(prefix, name))
    out.append(os.path.join(parent_dir, name))
    out.append(name)
    out.append(os.path.join(os.path.dirname(os.path.realpath(parent)), name))
    return out


def find_file(target, parent, env_var=VDS_PREFIX):
    """The file HDF5 would open for target, or None if no candidate is an HDF5 file."""
    for path in candidates(target, parent, env_var):
        if os.path.isfile(path) and h5py.is_hdf5(path):
            return path
    return None


def explain_missing_link(parent, link_name, link):
    """Message for a dangling external link: the link, the file looked for and where."""
    tried = list(dict.fromkeys(os.path.abspath(p) for p in candidates(link.filename, parent, EXT_PREFIX)))
    return (f"external link {link_name!r} in {parent!r} points to {link.filename!r}:{link.path!r}, "
            f"which cannot be opened; looked for it at: {', '.join(tried)} "
            f"(set {EXT_PREFIX} to add directories)")
