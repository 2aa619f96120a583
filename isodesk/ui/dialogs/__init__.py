"""The desk's forms: collateral, positions by hand, funds, and the collateral journal.

Every form is non-modal (``open()``/``show()``), built as ``Dialog(controller, snapshot, parent, *, …)``,
sends one command through :meth:`DeskController.send` and reacts only to the result with its own
request id; the desk's reason is shown verbatim when it refuses.
"""

from isodesk.ui.dialogs.close import ClosePositionDialog
from isodesk.ui.dialogs.collateral import CollateralDialog
from isodesk.ui.dialogs.funds import FundsDialog
from isodesk.ui.dialogs.increase import IncreasePositionDialog
from isodesk.ui.dialogs.journal import JournalView
from isodesk.ui.dialogs.position import OpenPositionDialog
from isodesk.ui.dialogs.venue_import import VenueImportDialog

__all__ = ["ClosePositionDialog", "CollateralDialog", "FundsDialog", "IncreasePositionDialog", "JournalView",
           "OpenPositionDialog", "VenueImportDialog"]
