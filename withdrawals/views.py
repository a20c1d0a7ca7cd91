"""The wizard's pages: each parses input, calls one service or selector, and renders or redirects."""

import uuid
from decimal import Decimal
from urllib.parse import urlencode

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from broker_portal.ratelimits import RateLimited, consume, too_many_requests
from broker_portal.tenancy import get_for_tenant
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.withdrawals import SecuritySetupRequired
from connectors.models import ExchangeConnection

from . import selectors
from .forms import CodesForm, DetailsForm, StepUpForm
from .models import Withdrawal
from .services import cancel, details, quote, step_up, submit
from .services.errors import QuoteChanged, WithdrawalError
from .services.exchange import exchange_context
from .services.factors import withdrawal_request_factors

State = Withdrawal.State


def next_page(withdrawal: Withdrawal) -> str:
    """Where a withdrawal in this state continues."""
    if withdrawal.state in (State.DRAFT,):
        return reverse("withdrawal_details", args=[withdrawal.pk])
    if withdrawal.state == State.PREVIEWED:
        return reverse("withdrawal_preview", args=[withdrawal.pk])
    if withdrawal.state in (State.STEPPED_UP, State.FACTORS_REQUESTED):
        return reverse("withdrawal_verify", args=[withdrawal.pk])
    return reverse("withdrawal_status", args=[withdrawal.pk])


@login_required
def withdrawal_index(request):
    return render(
        request,
        "withdrawals/index.html",
        {"withdrawals": selectors.withdrawal_list(tenant=request.tenant, user=request.user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def withdrawal_details(request, connection_id=None, withdrawal_id=None):
    withdrawal = None
    if withdrawal_id is not None:
        withdrawal = selectors.withdrawal_get(request=request, withdrawal_id=withdrawal_id)
        if withdrawal.state not in Withdrawal.EDITABLE:
            return redirect("withdrawal_status", withdrawal.pk)
        connection = withdrawal.connection
    else:
        connection = get_for_tenant(
            ExchangeConnection.objects.filter(user=request.user), request.tenant, pk=connection_id
        )
    reason = selectors.withdrawal_capability(connection=connection)
    if reason:
        return render(request, "withdrawals/unavailable.html", {"connection": connection, "reason": reason})
    api, hooks, _ = exchange_context(connection)
    try:
        currencies = hooks.currencies(api, connection)
        infos = {code: hooks.currency(api, connection, code) for code in currencies}
        saved = hooks.saved_addresses(api, connection)
    except ExchangeUnavailable as error:
        return render(
            request,
            "withdrawals/unavailable.html",
            {"connection": connection, "reason": f"The exchange cannot be reached right now ({error})."},
        )
    except ExchangeAPIError as error:
        return render(
            request, "withdrawals/unavailable.html", {"connection": connection, "reason": hooks.refusal_message(error)}
        )
    saved_addresses = {code: [item for item in saved if item.currency == code] for code in currencies}
    if withdrawal is not None:
        initial = {
            name: getattr(withdrawal, name)
            for name in ("currency", "chain", "withdraw_type", "destination", "memo", "remark", "fee_deduct_type")
        }
        initial.update(idempotency_key=withdrawal.idempotency_key, amount=format(withdrawal.amount.normalize(), "f"))
    else:
        # The idempotency key is issued here, when the wizard starts; every post of this form carries it.
        initial = {"idempotency_key": uuid.uuid4()}
    form = DetailsForm(request.POST or None, initial=initial, currencies=currencies, hooks=hooks)
    if request.method == "POST" and request.POST.get("action") == "max":
        form = details_with_max_amount(request, form, connection=connection, currencies=currencies, hooks=hooks)
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if withdrawal is not None and data["idempotency_key"] != withdrawal.idempotency_key:
            form.add_error(None, "This form belongs to another withdrawal.")
        else:
            try:
                entered = details.Details(
                    currency=data["currency"],
                    chain=data.get("chain") or "",
                    withdraw_type=data["withdraw_type"],
                    destination=data["destination"].strip(),
                    memo=data.get("memo") or "",
                    remark=data["remark"],
                    amount=details.parse_amount(data["amount"]),
                    fee_deduct_type=data["fee_deduct_type"],
                )
                saved = details.withdrawal_save_details(
                    tenant=request.tenant,
                    user=request.user,
                    connection=connection,
                    idempotency_key=data["idempotency_key"],
                    details=entered,
                    request=request,
                )
                return redirect("withdrawal_preview", saved.pk)
            except WithdrawalError as error:
                for field, message in error.field_errors.items():
                    form.add_error(field if field in form.fields else None, message)
                if not error.field_errors:
                    form.add_error(None, error.message)
    return render(
        request,
        "withdrawals/details.html",
        {
            "form": form,
            "connection": connection,
            "withdrawal": withdrawal,
            "infos": infos,
            "hooks": hooks,
            "saved_addresses": saved_addresses if any(saved_addresses.values()) else None,
            "step": 1,
            "has_networks": any(chain.chain_id for info in infos.values() for chain in info.chains),
            **mfa_notice(request),
        },
    )


def details_with_max_amount(request, form: DetailsForm, *, connection, currencies, hooks) -> DetailsForm:
    """The details as typed, with the amount set to the most the balance allows after fees ("Max")."""
    data = form.data.copy()
    try:
        data["amount"] = format(
            details.withdrawal_max_amount(
                connection=connection,
                currency=data.get("currency", ""),
                chain=data.get("chain", ""),
                withdraw_type=data.get("withdraw_type", "ADDRESS"),
                fee_deduct_type=data.get("fee_deduct_type") or hooks.fee_deduct_types[0],
            ).normalize(),
            "f",
        )
        refused = None
    except WithdrawalError as error:
        refused = error
    form = DetailsForm(data, currencies=currencies, hooks=hooks)
    form.is_valid()
    form.errors.pop("amount", None)
    if refused is not None:
        form.add_error("chain" if "chain" in refused.field_errors else None, refused.message)
    return form


def mfa_notice(request) -> dict:
    """Whether the user has the portal's 2FA that step 3 asks for, and where to set it up and come back here."""
    has_mfa = Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists()
    setup_url = "" if has_mfa else f"{reverse('mfa_activate_totp')}?{urlencode({'next': request.get_full_path()})}"
    return {"has_mfa": has_mfa, "mfa_setup_url": setup_url}


@login_required
@require_http_methods(["GET", "POST"])
def withdrawal_preview(request, withdrawal_id):
    withdrawal = selectors.withdrawal_get(request=request, withdrawal_id=withdrawal_id)
    if withdrawal.state not in Withdrawal.EDITABLE:
        return redirect("withdrawal_status", withdrawal.pk)
    error = quote_changed = ""
    try:
        withdrawal = quote.withdrawal_preview(withdrawal=withdrawal, request=request)
    except QuoteChanged as changed:
        # The user confirmed other figures: show the new ones, and go on only when they confirm these.
        quote_changed = changed.message
        withdrawal = selectors.withdrawal_get(request=request, withdrawal_id=withdrawal_id)
    except WithdrawalError as refused:
        error = refused.message
    if request.method == "POST" and not error and not quote_changed:
        return redirect("withdrawal_step_up", withdrawal.pk)
    return render(
        request,
        "withdrawals/preview.html",
        {
            "withdrawal": withdrawal,
            "error": error,
            "step": 2,
            "fee_rule": selectors.withdrawal_fee_rule(withdrawal=withdrawal),
            "quote_changed": quote_changed,
            "ttl": int(quote.preview_ttl().total_seconds()),
        },
    )


@sensitive_post_parameters("code")
@login_required
@require_http_methods(["GET", "POST"])
def withdrawal_step_up(request, withdrawal_id):
    """Step 3: the user's authenticator code, checked by the same service as the API's step-up."""
    withdrawal = selectors.withdrawal_get(request=request, withdrawal_id=withdrawal_id)
    if withdrawal.state not in (State.PREVIEWED, State.STEPPED_UP, State.FACTORS_REQUESTED):
        return redirect(next_page(withdrawal))
    if not quote.quote_is_fresh(withdrawal):
        messages.info(request, "The preview expired; here are the current fees.")
        return redirect("withdrawal_preview", withdrawal.pk)
    notice = mfa_notice(request)
    form = None
    if request.method == "POST" and notice["has_mfa"]:
        # "Confirm with my authenticator" opens the code field; the code itself comes with the next post.
        form = StepUpForm(request.POST if "code" in request.POST else None)
        if form.is_valid():
            try:
                step_up.withdrawal_step_up_with_code(
                    withdrawal=withdrawal, code=form.cleaned_data["code"], request=request
                )
            except RateLimited as limited:
                return too_many_requests(request, limited)
            except step_up.StepUpCodeRefused as refused:
                form.add_error("code", refused.message)
            except WithdrawalError as error:
                messages.error(request, error.message)
                return redirect("withdrawal_preview", withdrawal.pk)
            else:
                return redirect("withdrawal_verify", withdrawal.pk)
    return render(request, "withdrawals/step_up.html", {"withdrawal": withdrawal, "step": 3, "form": form, **notice})


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def withdrawal_verify(request, withdrawal_id):
    """Steps 4–6: the exchange's security check, its 2FA codes, and the submit."""
    withdrawal = selectors.withdrawal_get(request=request, withdrawal_id=withdrawal_id)
    if withdrawal.state not in (State.STEPPED_UP, State.FACTORS_REQUESTED):
        return redirect(next_page(withdrawal))
    if not step_up.step_up_is_fresh(withdrawal):
        messages.info(request, "Please confirm it is you again.")
        return redirect("withdrawal_step_up", withdrawal.pk)
    api, hooks, credential = exchange_context(withdrawal.connection)
    factors = [factor for group in withdrawal.factors_all for factor in group]
    form = CodesForm(request.POST if request.POST.get("action") == "submit" else None, factors=factors)
    context = {"withdrawal": withdrawal, "hooks": hooks, "form": form, "step": 4, "security_url": ""}
    if request.method == "POST":
        action = {"request": "withdrawal_factors", "submit": "withdrawal_submit"}.get(request.POST.get("action"))
        try:
            if action:
                consume(request, action)
        except RateLimited as limited:
            return too_many_requests(request, limited)
        try:
            if request.POST.get("action") == "request":
                withdrawal_request_factors(withdrawal=withdrawal, request=request)
                return redirect("withdrawal_verify", withdrawal.pk)
            if request.POST.get("action") == "submit" and (form.is_valid() or not hooks.needs_factors):
                codes = {factor: form.cleaned_data[factor].strip() for factor in factors} if factors else {}
                sent = submit.withdrawal_submit(
                    withdrawal_id=withdrawal.pk, tenant=request.tenant, user=request.user, codes=codes, request=request
                )
                return redirect("withdrawal_status", sent.pk)
        except SecuritySetupRequired as setup:
            return_to = request.build_absolute_uri(reverse("withdrawal_security_return"))
            context["security_url"] = hooks.security_setup_url(
                setup.url, client_id=credential.client_id, return_url=return_to
            )
        except WithdrawalError as error:
            messages.error(request, error.message)
            if isinstance(error, QuoteChanged) or not quote.quote_is_fresh(withdrawal):
                return redirect("withdrawal_preview", withdrawal.pk)
            return redirect("withdrawal_verify", withdrawal.pk)
    sent = {factor for group in withdrawal.factors_sent for factor in group}
    context["factor_groups"] = [
        [{"factor": f, "field": form[f], "sent": f in sent} for f in group] for group in withdrawal.factors_all
    ]
    return render(request, "withdrawals/verify.html", context)


@login_required
def withdrawal_security_return(request):
    """The exchange sends the user back here after its security setup: continue the waiting withdrawal."""
    withdrawal = selectors.security_return_url_target(tenant=request.tenant, user=request.user)
    if withdrawal is None:
        return redirect("dashboard")
    messages.info(request, "Welcome back. Request the codes again to continue.")
    return redirect("withdrawal_verify", withdrawal.pk)


@login_required
@require_POST
def withdrawal_cancel(request, withdrawal_id):
    withdrawal = selectors.withdrawal_get(request=request, withdrawal_id=withdrawal_id)
    try:
        cancel.withdrawal_cancel(withdrawal=withdrawal, request=request)
        messages.info(request, "The withdrawal was cancelled. Nothing was sent.")
    except WithdrawalError as error:
        messages.error(request, error.message)
        return redirect("withdrawal_status", withdrawal.pk)
    return redirect("dashboard")


@login_required
def withdrawal_status(request, withdrawal_id):
    withdrawal = selectors.withdrawal_get(request=request, withdrawal_id=withdrawal_id)
    if withdrawal.state in Withdrawal.EDITABLE:
        return redirect(next_page(withdrawal))
    return render(
        request,
        "withdrawals/status.html",
        {
            "withdrawal": withdrawal,
            "step": 7,
            "open": withdrawal.state in Withdrawal.OPEN_AT_EXCHANGE,
            "fee_rule": selectors.withdrawal_fee_rule(withdrawal=withdrawal),
            "now": timezone.now(),
            "zero": Decimal(0),
        },
    )
