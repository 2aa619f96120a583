"""The What-if workspace: a page of the main window to shock a copy of the book (see :mod:`.workspace`)."""

from isodesk.ui.whatif.workspace import WhatIfWorkspace

__all__ = ["WhatIfWorkspace"]
