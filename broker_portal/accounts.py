"""allauth hooks: sign-in scoped to the request's tenant, and MFA secrets encrypted at rest."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.forms import ResetPasswordForm
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from django.db import transaction

from . import crypto
from .audit import record_audit_event
from .models import Membership


def is_member(user, tenant) -> bool:
    return tenant is not None and Membership.objects.filter(user=user, tenant=tenant).exists()


class TenantAuthenticationBackend(AuthenticationBackend):
    """A user signs in only at a tenant they belong to; elsewhere their credentials are simply wrong."""

    def authenticate(self, request, **credentials):
        user = super().authenticate(request, **credentials)
        if user is None:
            return None
        tenant = getattr(request, "tenant", None)
        if user.is_superuser or is_member(user, tenant):
            return user
        return None


class TenantResetPasswordForm(ResetPasswordForm):
    """Password reset mails only members of the tenant it was asked at."""

    def clean_email(self):
        email = super().clean_email()
        tenant = getattr(context.request, "tenant", None)
        self.users = [user for user in self.users if is_member(user, tenant)]
        return email


class PortalAccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        # Signing up at a broker's portal makes you an end user of that broker.
        with transaction.atomic():
            user = super().save_user(request, user, form, commit=True)
            Membership.objects.create(tenant=request.tenant, user=user, role=Membership.Role.MEMBER)
            record_audit_event(tenant=request.tenant, action="account.signed_up", actor=user, target=user,
                               request=request)
        return user

    def get_from_email(self):
        tenant = getattr(context.request, "tenant", None)
        if tenant is not None and tenant.support_email:
            return f"{tenant.name} <{tenant.support_email}>"
        return super().get_from_email()

    def format_email_subject(self, subject):
        tenant = getattr(context.request, "tenant", None)
        return f"[{tenant.name}] {subject}" if tenant is not None else subject


class EncryptingMFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are stored Fernet-encrypted with FERNET_KEYS."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt_text(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt_text(encrypted_text)

    def get_totp_issuer(self) -> str:
        tenant = getattr(context.request, "tenant", None)
        return tenant.name if tenant is not None else super().get_totp_issuer()
