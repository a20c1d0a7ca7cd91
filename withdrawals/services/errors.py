"""What a withdrawal step answers when it refuses."""

from datetime import datetime

from broker_portal.errors import PortalError


class WithdrawalError(PortalError):
    """A step refused; the message is for the user. ``retry_at`` where waiting helps."""

    error_code = "withdrawal_refused"

    def __init__(self, message: str, *, retry_at: datetime | None = None, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.retry_at = retry_at
        self.field_errors = field_errors or {}


class QuoteChanged(WithdrawalError):
    """The preview expired and the new one differs: the user reviews it before going on."""


class DetailsChanged(WithdrawalError):
    """The details changed while the exchange was quoting them: that quote is for other details."""
