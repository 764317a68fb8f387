from services.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class OrganNotFound(NotFound):
    code = "organ_not_found"


class OrganCodeTaken(Conflict):
    code = "organ_code_taken"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"


class OutsideOrgan(Forbidden):
    code = "outside_organ"


class WrongRole(Forbidden):
    code = "wrong_role"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class ClassifiedNeverPublished(Conflict):
    code = "classified_never_published"


class InvalidReference(UnprocessableEntity):
    code = "invalid_reference"


class NotEditable(Conflict):
    code = "not_editable"
