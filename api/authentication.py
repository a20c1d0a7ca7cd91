from django.utils import timezone
from rest_framework import authentication, exceptions

from broker_portal.models import Membership

from .models import ApiToken
from .tokens import token_for_key

# A token's last use is written at most this often, so reads do not each cost a write.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer bp_…``: a user's token, valid only at the tenant it was made at."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header.startswith(f"{self.keyword} bp_"):
            return None
        token = token_for_key(header[len(self.keyword) + 1 :].strip(), tenant=getattr(request, "tenant", None))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        # The token is bound to its tenant (token_for_key); its user must also still belong there.
        membership = Membership.objects.filter(user=token.user, tenant_id=token.tenant_id).first()
        if membership is None and not token.user.is_superuser:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        request._request._membership = membership  # what tenancy.membership_of would look up again
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
