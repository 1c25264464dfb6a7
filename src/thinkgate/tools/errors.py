"""Why a patch was refused, in words a model can act on.

PatchError
├── PatchSyntaxError       the patch text does not follow the V4A grammar
├── ContextNotFoundError   a hunk's context or @@ anchor is not in the file
├── TargetExistsError      Add File / create_file onto an existing file
├── TargetMissingError     Update / Delete of a file that does not exist
└── WorkspaceEscapeError   absolute path, `..`, or a symlink leading outside
"""

from __future__ import annotations


class PatchError(Exception):
    """Base class: the message is sent back to the model as the failed call's output."""


class PatchSyntaxError(PatchError):
    pass


class ContextNotFoundError(PatchError):
    pass


class TargetExistsError(PatchError):
    pass


class TargetMissingError(PatchError):
    pass


class WorkspaceEscapeError(PatchError):
    pass
