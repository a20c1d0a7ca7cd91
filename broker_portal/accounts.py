"""allauth hooks: sign-in scoped to the request's tenant, MFA secrets encrypted at rest, TOTP codes used once
(the setup code included)."""

import functools
import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.forms import ResetPasswordForm
from allauth.core import context
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal import auth as totp_auth
from allauth.mfa.totp.internal import flows as totp_flows
from allauth.mfa.utils import decrypt
from django.core.exceptions import ImproperlyConfigured
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
            record_audit_event(
                tenant=request.tenant, action="account.signed_up", actor=user, target=user, request=request
            )
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


# Where in a TOTP authenticator's data the counter (time step) of the last code it accepted is kept.
LAST_TOTP_COUNTER = "last_counter"


def accepted_totp_counter(totp: totp_auth.TOTP, code: str) -> int | None:
    """The time step a code that allauth found valid belongs to (the latest, should two steps share it)."""
    secret = decrypt(totp.instance.data["secret"])
    now = int(time.time()) // mfa_settings.TOTP_PERIOD
    # One step wider than allauth's window: it checked validity a moment ago, possibly in the previous step.
    reach = mfa_settings.TOTP_TOLERANCE + 1
    matches = [
        counter
        for counter in range(now - reach, now + reach + 1)
        if totp_auth.compare_user_code(actual=code, expected=expected_code(secret, counter))
    ]
    return max(matches) if matches else None


def expected_code(secret: str, counter: int) -> str:
    return totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))


def use_totp_code_once(totp: totp_auth.TOTP, code: str) -> bool:
    """Accept a valid code only if its time step is later than that of the last code accepted.

    allauth remembers a used code in the cache for one period, but with MFA_TOTP_TOLERANCE periods either side
    a code is valid for 2 * tolerance + 1 periods, so it could be replayed. RFC 6238 §5.2: a verifier MUST NOT
    accept an OTP a second time. Keeping the last accepted time step on the authenticator row (locked while it
    is compared) also refuses an older code once a newer one was used, and survives a cache flush."""
    counter = accepted_totp_counter(totp, code)
    if counter is None or totp.instance.pk is None:
        return False
    with transaction.atomic():
        row = Authenticator.objects.select_for_update().filter(pk=totp.instance.pk).first()
        last = row.data.get(LAST_TOTP_COUNTER) if row is not None else None
        if row is None or (last is not None and counter <= last):
            return False
        row.data[LAST_TOTP_COUNTER] = counter
        row.save(update_fields=["data"])
    totp.instance.data = row.data
    return True


def activating_totp_uses_its_code(activate_totp):
    """allauth checks the code typed to set up TOTP outside the used-code check (against the secret in the
    session: there is no authenticator yet), so that code could then sign in or step up while still valid. It is
    recorded as used on the new authenticator, in the transaction that creates it."""

    @functools.wraps(activate_totp)
    def activate(request, form):
        with transaction.atomic():
            authenticator, recovery_codes = activate_totp(request, form)
            use_totp_code_once(totp_auth.TOTP(authenticator), form.cleaned_data["code"])
        return authenticator, recovery_codes

    activate.uses_its_code = True
    return activate


def install_totp_replay_guard() -> None:
    """allauth's TOTP offers no hook for this: its used-code check is replaced (every TOTP check goes through
    it: sign-in, re-authentication, the API's step-up), and so is the setup flow (web form and headless), which
    checks its code without it. Fails loudly if an allauth upgrade moves either."""
    if not callable(getattr(totp_auth.TOTP, "_mark_code_used", None)):
        raise ImproperlyConfigured("allauth's TOTP._mark_code_used is gone: TOTP codes could be replayed.")
    if not callable(getattr(totp_flows, "activate_totp", None)):
        raise ImproperlyConfigured("allauth's TOTP activate_totp flow is gone: setup codes could be replayed.")
    totp_auth.TOTP._mark_code_used = use_totp_code_once
    if not getattr(totp_flows.activate_totp, "uses_its_code", False):
        totp_flows.activate_totp = activating_totp_uses_its_code(totp_flows.activate_totp)
