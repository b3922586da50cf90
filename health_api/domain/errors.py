"""Domain errors: what storage and services raise, never a backend's own exception.

The HTTP layer maps each to a status code; the CLI maps the storage-access ones to an
explanation. Messages are safe to show a client: they never carry patient data or backend text.
"""

from __future__ import annotations


class HealthApiError(Exception):
    """Base of every error this package raises on purpose."""


class NotFoundError(HealthApiError):
    """The resource does not exist (or, for a session, has expired)."""


class DoctorNotFoundError(NotFoundError):
    """The doctor named by a slot operation does not exist: ``/problems/doctor-not-found``
    (creating, listing, holding, booking or cancelling slots of an unknown doctor)."""


class ConflictError(HealthApiError):
    """The resource's state forbids the change (exists already, booked, held by someone else)."""


class SlotTakenError(ConflictError):
    """The slot is booked, or held live, by another user; the booking service attaches
    ``alternativas`` (the doctor's next free slots) before the error reaches a client."""

    def __init__(self, message: str = "the slot is booked by another user") -> None:
        super().__init__(message)
        self.alternativas: list = []


class NotYourBookingError(ConflictError):
    """A cancel named a slot booked, or held live, by another user: ``/problems/not-your-booking``
    (no ``alternativas``: the caller wanted to free a slot, not to find one)."""

    def __init__(self, message: str = "the slot is booked or held by another user") -> None:
        super().__init__(message)


class AlreadyBookedError(ConflictError):
    """This same user has booked the slot already (a hold on it is pointless):
    ``/problems/already-booked``."""

    def __init__(self, message: str = "the slot is already booked by this user") -> None:
        super().__init__(message)


class HoldLimitError(ConflictError):
    """The user already has the most live holds allowed (``HOLD_MAX_PER_USER``):
    ``/problems/hold-limit``."""

    def __init__(self, message: str = "the user holds the most slots allowed") -> None:
        super().__init__(message)


class HoldInvalidError(ConflictError):
    """A booking named a hold that is expired, of another user or of another slot (or an edited
    or foreign ``hold_id``): ``/problems/hold-invalid``."""

    def __init__(self, message: str = "the hold is not valid for this booking") -> None:
        super().__init__(message)


class SlotBlockedError(HealthApiError):
    """The slot is ``bloqueado``: nobody can book it (a 422, not a conflict)."""


class RescheduleError(ConflictError):
    """A reschedule changed nothing; ``reason`` says why.

    Reasons: ``from_not_found``, ``from_not_held`` (the user does not hold the old slot),
    ``to_not_found``, ``to_taken``, ``to_blocked``, ``same_slot``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class DoctorDeletionStoppedError(ConflictError):
    """A doctor DELETE met a future slot booked or held live and called the deletion off (the
    doctor is no longer marked). ``slots_eliminados``: the free future slots this request had
    removed before it stopped (0 when the slot was taken before the request began)."""

    def __init__(self, message: str, slots_eliminados: int = 0) -> None:
        super().__init__(message)
        self.slots_eliminados = slots_eliminados


class InvalidCursorError(HealthApiError):
    """A pagination cursor was tampered with or belongs to another query."""


class InvalidRequestError(HealthApiError):
    """A well-formed request the domain rules reject (slot in the past, reversed range...)."""


class StorageUnavailableError(HealthApiError):
    """The store cannot answer now (unreachable, throttled past retries, locked); try later."""

    def __init__(self, message: str = "storage unavailable", retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageRequestError(HealthApiError):
    """The store refused a request as malformed (DynamoDB's ``ValidationException``): a bug in
    this service, not a condition that a retry could change, so a logged 500, never a 503.

    ``operation`` and ``code`` name the call and the store's error code for the log; the
    message never carries the store's own text (it may quote the values sent).
    """

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"the storage refused {operation} as invalid ({code})")
        self.operation = operation
        self.code = code


class StorageAccessError(StorageUnavailableError):
    """The store refused or could not be reached for a reason an operator must fix.

    ``kind`` names the cause so that callers can explain it: ``no_credentials``,
    ``invalid_credentials``, ``access_denied``, ``unreachable``, ``unknown_region``,
    ``throttled``, ``in_use``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AccessError(HealthApiError):
    """The caller may not do this (a 403): raised by the object-level rules of
    :mod:`health_api.domain.caller`, before any storage call."""


class OtherUserError(AccessError):
    """A user token named another user (in a path, query, body or tool argument):
    ``/problems/other-user``. It reveals nothing about that user, not even whether they exist."""

    def __init__(
        self, message: str = "a user token acts only for its own user; this names another"
    ) -> None:
        super().__init__(message)


class InsufficientScopeError(AccessError):
    """A user token without the scope an operation needs: ``/problems/insufficient-scope``."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"this operation needs a token with the scope {scope!r}")
        self.scope = scope


class PublicAccessError(AccessError):
    """An API key that may not act for users (an agent key with
    ``HEALTH_API_AGENT_ACCESS=public``, an issuer key) named a user's data:
    ``/problems/forbidden``."""

    def __init__(
        self,
        message: str = (
            "this key reaches public data only (doctors, schedules, availability); "
            "a user's data needs that user's token"
        ),
    ) -> None:
        super().__init__(message)


class MissingUserError(InvalidRequestError):
    """An API key's request named no user where one is needed (a user token defaults to its
    own): a 422 naming the ``user_id`` field, as the schemas answered before tokens."""

    def __init__(self, message: str = "Missing data for required field.") -> None:
        super().__init__(message)
