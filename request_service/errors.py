from services.errors import Conflict, Forbidden, NotFound, TooManyRequests, UnprocessableEntity


class ApplicationNotFound(NotFound):
    code = "application_not_found"


class OutsideOrgan(Forbidden):
    code = "outside_organ"


class WrongRole(Forbidden):
    code = "wrong_role"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class UnknownOrgan(UnprocessableEntity):
    code = "unknown_organ"


class LookupLocked(TooManyRequests):
    code = "lookup_locked"
