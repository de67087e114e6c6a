# SPDX-License-Identifier: Apache-2.0
"""Domain errors. Status codes are known only to ``freezer_api.api.errors``."""


class FreezerError(Exception):
    """Base for errors a client may be told about; ``str(error)`` is the description."""


class InvalidDocument(FreezerError):
    """The request body or its parameters are not acceptable."""


class NotFound(FreezerError):
    """The addressed document does not exist for this caller."""


class Conflict(FreezerError):
    """The document already exists."""


class PreconditionFailed(FreezerError):
    """An ``If-Match`` version did not match the stored document."""


class Forbidden(FreezerError):
    """Policy does not allow the caller to do this."""


class Unauthorized(FreezerError):
    """The request carries no usable identity."""


class Gone(FreezerError):
    """What was asked for existed once and is no longer kept (a purged cursor)."""


class Unprocessable(FreezerError):
    """The document is well formed but refers to something that cannot be used."""


class StorageUnavailable(FreezerError):
    """The database cannot be reached right now."""
