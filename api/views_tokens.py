"""The portal page where a user creates and revokes their API tokens."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from broker_portal import crypto
from broker_portal.tenancy import get_for_tenant

from .models import ApiToken
from .tokens import api_token_create, api_token_revoke

NEW_KEY_SESSION = "api_token_new_key"  # the new key, encrypted, from the POST to the one GET that shows it
EXPIRIES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What the token is for, e.g. “back office”.")
    expires_in = forms.ChoiceField(
        choices=EXPIRIES, required=False, label="Expires", help_text="After this no request with the token is accepted."
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in"]
        expires_at = timezone.now() + timedelta(days=int(days)) if days else None
        _, key = api_token_create(
            tenant=request.tenant,
            user=request.user,
            name=form.cleaned_data["name"],
            expires_at=expires_at,
            request=request,
        )
        # Post/redirect/get: a reload of the page that shows the key makes no second token.
        request.session[NEW_KEY_SESSION] = crypto.encrypt_text(key)
        return redirect("api-tokens")
    encrypted = request.session.pop(NEW_KEY_SESSION, None) if request.method == "GET" else None
    new_key = crypto.decrypt_text(encrypted) if encrypted else None
    tokens = ApiToken.objects.filter(tenant=request.tenant, user=request.user)
    response = render(
        request, "api/tokens.html", {"form": form, "tokens": tokens, "new_key": new_key, "now": timezone.now()}
    )
    response["Cache-Control"] = "no-store"  # the key is on this page once; no cache may keep it
    return response


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_for_tenant(ApiToken.objects.filter(user=request.user, revoked_at__isnull=True), request.tenant, pk=pk)
    api_token_revoke(token=token, request=request)
    messages.success(request, f"Token “{token.name}” is revoked.")
    return redirect("api-tokens")
