"""Who may call the API at all, beyond being signed in."""

from rest_framework import permissions

from broker_portal.tenancy import needs_mfa_setup


class StaffMfaSetUp(permissions.BasePermission):
    """Broker admins and accountants use the API only once they have set up MFA, as on the admin and export pages.

    A password session or an API token alone would otherwise reach tenant-wide exports and the audit log.
    """

    message = "Set up two-factor authentication in the portal before you use the API."
    code = "mfa_required"

    def has_permission(self, request, view):
        return not needs_mfa_setup(request)
