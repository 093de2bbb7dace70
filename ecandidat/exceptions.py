class BusinessRuleError(Exception):
    """A rule of the domain refused the action; the message is safe to show to the user as is."""


class InvalidTransition(BusinessRuleError):
    """The object is not in a state that allows this transition (double submit, stale page, wrong role)."""


class AlreadyDone(InvalidTransition):
    """The action was done already (applied to this formation, application transmitted): a view may answer the second
    submit of a double tap as the first, once it has checked who did it, and when."""


class FieldRuleError(BusinessRuleError):
    """A rule refused the value of one field (``field``: the form field's name), so a view can show the message
    next to that field; the message is safe to show as is."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
