class BusinessRuleError(Exception):
    """A rule of the domain refused the action; the message is safe to show to the user as is."""


class InvalidTransition(BusinessRuleError):
    """The object is not in a state that allows this transition (double submit, stale page, wrong role)."""
