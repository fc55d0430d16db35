"""The synced IAM directory: what users, groups and roles exist, and which principals a caller holds.

model.py     DirectoryUser / DirectoryGroup / DirectoryRole / DirectoryData (one complete pull)
snapshot.py  DirectorySnapshot (versioned, one issuer's; group path and user name bindings, tombstones)
             and Resolution
codec.py     the snapshot's stored JSON form
store.py     SnapshotStore: a data-dir file (embedded) or a side collection (Qdrant server)
yaml_file.py the YAML directory file (CLEARANCE_DIRECTORY_FILE)
"""

from __future__ import annotations

from access_index.directory.codec import decode_snapshot, encode_snapshot
from access_index.directory.model import DirectoryData, DirectoryGroup, DirectoryRole, DirectoryUser
from access_index.directory.snapshot import DirectorySnapshot, Resolution, Status, build_snapshot, names_of
from access_index.directory.store import FileSnapshotStore, QdrantSnapshotStore, SnapshotStore, open_snapshot_store
from access_index.directory.yaml_file import load_directory_file

__all__ = [
    "DirectoryData",
    "DirectoryGroup",
    "DirectoryRole",
    "DirectorySnapshot",
    "DirectoryUser",
    "FileSnapshotStore",
    "QdrantSnapshotStore",
    "Resolution",
    "SnapshotStore",
    "Status",
    "build_snapshot",
    "decode_snapshot",
    "encode_snapshot",
    "load_directory_file",
    "names_of",
    "open_snapshot_store",
]
