# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
from trytond.exceptions import UserError, UserWarning
from trytond.model.exceptions import AccessError, ValidationError


class ContactMethodValidationError(ValidationError):
    pass


class ProspectAccessError(AccessError):
    pass


class ClientValueError(AccessError):
    pass


class DuplicateProspectWarning(UserWarning):
    pass


class TraceValidationError(ValidationError):
    pass


class CallValidationError(ValidationError):
    pass


class CallAccessError(AccessError):
    pass


class DeletionError(AccessError):
    pass


class ProfileValidationError(ValidationError):
    pass


class LifecycleError(UserError):
    pass


class AssignmentError(UserError):
    pass


class NoPendingCallError(UserError):
    pass


class ReportContextError(UserError):
    pass


class CallingHoursWarning(UserWarning):
    pass


class DoNotCallWarning(UserWarning):
    pass


class ImportFileError(UserError):
    pass


class MergeError(UserError):
    pass
