from services.errors import Conflict, NotFound


class OrganNotFound(NotFound):
    code = "organ_not_found"


class OrganCodeTaken(Conflict):
    code = "organ_code_taken"


class DocumentNotFound(NotFound):
    code = "document_not_found"
