"""The portal page where a user creates and revokes their API tokens."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from broker_portal.tenancy import get_for_tenant

from .models import ApiToken
from .tokens import api_token_create, api_token_revoke


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What the token is for, e.g. “back office”.")


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _, new_key = api_token_create(tenant=request.tenant, user=request.user, name=form.cleaned_data["name"],
                                      request=request)
        form = TokenForm()
    tokens = ApiToken.objects.filter(tenant=request.tenant, user=request.user)
    response = render(request, "api/tokens.html", {"form": form, "tokens": tokens, "new_key": new_key})
    if new_key:
        response["Cache-Control"] = "no-store"  # the key is on this page once; no cache may keep it
    return response


@login_required
@require_POST
def token_revoke(request, pk):
    token = get_for_tenant(ApiToken.objects.filter(user=request.user, revoked_at__isnull=True), request.tenant, pk=pk)
    api_token_revoke(token=token, request=request)
    messages.success(request, f"Token “{token.name}” is revoked.")
    return redirect("api-tokens")
