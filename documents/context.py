"""The context of the pieces table include (``templates/documents/includes/pieces_table.html``)."""

from documents.pieces import piece_rows
from documents.services import pieces_locked_reason


def pieces_table_context(application) -> dict:
    """``application`` (with its formation selected), its ``piece_rows``, ``can_change_pieces`` and the reason
    shown when they cannot change (``pieces_locked_reason``)."""
    reason = pieces_locked_reason(application)
    return {
        "application": application,
        "piece_rows": piece_rows(application),
        "can_change_pieces": not reason,
        "pieces_locked_reason": reason,
    }
