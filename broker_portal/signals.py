"""Sign-ins and failed sign-ins go to the audit log of the tenant they happened at; a sign-in binds the session."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .audit import record_audit_event
from .tenancy import bind_session_to_tenant


@receiver(user_logged_in)
def bind_session(sender, request, user, **kwargs):
    bind_session_to_tenant(request)


@receiver(user_logged_in)
def audit_sign_in(sender, request, user, **kwargs):
    tenant = getattr(request, "tenant", None)
    if tenant is not None:
        record_audit_event(tenant=tenant, action="account.signed_in", actor=user, target=user, request=request)


@receiver(user_logged_out)
def audit_sign_out(sender, request, user, **kwargs):
    tenant = getattr(request, "tenant", None)
    if tenant is not None and user is not None:
        record_audit_event(tenant=tenant, action="account.signed_out", actor=user, target=user, request=request)


@receiver(user_login_failed)
def audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    tenant = getattr(request, "tenant", None)
    if tenant is not None:
        # Django already replaces the password in credentials; the e-mail tried is kept for the admin.
        record_audit_event(
            tenant=tenant,
            action="account.sign_in_failed",
            request=request,
            details={"email": str(credentials.get("email") or credentials.get("username") or "")},
        )
