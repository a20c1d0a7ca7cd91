"""Withdrawals and exports through the API: the same services as the wizard and the export page."""

import uuid

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from broker_portal.ratelimits import RateLimited, consume
from broker_portal.tenancy import get_for_tenant, membership_of
from connectors.base.api import ExchangeAPIError
from connectors.base.http import ExchangeUnavailable
from connectors.base.withdrawals import SecuritySetupRequired
from connectors.models import ExchangeConnection
from exports.selectors import connections_exportable, export_jobs_visible, sync_coverage
from exports.services.jobs import ExportError, export_request
from exports.views import download_response
from withdrawals import selectors as withdrawal_selectors
from withdrawals.models import Withdrawal
from withdrawals.services.details import Details, parse_amount, withdrawal_save_details
from withdrawals.services.errors import QuoteChanged, WithdrawalError
from withdrawals.services.factors import withdrawal_request_factors
from withdrawals.services.quote import withdrawal_preview
from withdrawals.services.step_up import withdrawal_step_up_with_code
from withdrawals.services.submit import withdrawal_submit

from .errors import DomainError
from .idempotency import idempotent
from .pagination import ByIdCursorPagination, StrictCursorPagination
from .serializers import (
    ExportCreateInput,
    ExportSerializer,
    FactorsInput,
    HistorySyncSerializer,
    SubmitInput,
    WithdrawalCreateInput,
    WithdrawalSerializer,
)


class TooManyRequests(DomainError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"


def limit(request, action: str) -> None:
    try:
        consume(request, action)
    except RateLimited as limited:
        raise TooManyRequests(f"Too many requests; try again in {limited.retry_after} seconds.")


def refused(error: WithdrawalError) -> DomainError:
    message = error.message + (f" Try again at {error.retry_at.isoformat()}." if error.retry_at else "")
    return DomainError(message)


def own_withdrawal(request, pk) -> Withdrawal:
    return get_for_tenant(
        Withdrawal.objects.filter(user=request.user).select_related("connection"), request.tenant, pk=pk
    )


class WithdrawalListCreate(generics.ListAPIView):
    serializer_class = WithdrawalSerializer
    pagination_class = StrictCursorPagination  # newest first

    def get_queryset(self):
        return Withdrawal.objects.filter(tenant=self.request.tenant, user=self.request.user).order_by("-pk")

    @extend_schema(request=WithdrawalCreateInput, responses={201: WithdrawalSerializer})
    def post(self, request):
        data = WithdrawalCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        connection = get_for_tenant(
            ExchangeConnection.objects.filter(user=request.user), request.tenant, pk=values["connection"]
        )
        reason = withdrawal_selectors.withdrawal_capability(connection=connection)
        if reason:
            raise DomainError(reason)
        try:
            details = Details(
                currency=values["currency"].upper(),
                chain=values["chain"],
                withdraw_type=values["withdraw_type"],
                destination=values["destination"].strip(),
                memo=values["memo"],
                remark=values["remark"],
                amount=parse_amount(values["amount"]),
                fee_deduct_type=values["fee_deduct_type"],
            )
            withdrawal = withdrawal_save_details(
                tenant=request.tenant,
                user=request.user,
                connection=connection,
                idempotency_key=values.get("idempotency_key") or uuid.uuid4(),
                details=details,
                request=request,
            )
        except WithdrawalError as error:
            raise refused(error)
        except (ExchangeUnavailable, ExchangeAPIError) as error:
            raise DomainError(f"The exchange cannot be reached right now ({error}).")
        return Response(WithdrawalSerializer(withdrawal).data, status=status.HTTP_201_CREATED)


class WithdrawalDetail(generics.RetrieveAPIView):
    serializer_class = WithdrawalSerializer

    def get_object(self):
        return own_withdrawal(self.request, self.kwargs["pk"])


class WithdrawalPreview(APIView):
    @extend_schema(request=None, responses={200: WithdrawalSerializer})
    def post(self, request, pk):
        try:
            withdrawal = withdrawal_preview(withdrawal=own_withdrawal(request, pk), request=request)
        except QuoteChanged:
            withdrawal = own_withdrawal(request, pk)  # re-quoted: the caller reviews the new figures
        except WithdrawalError as error:
            raise refused(error)
        return Response(WithdrawalSerializer(withdrawal).data)


class WithdrawalFactors(APIView):
    @extend_schema(request=FactorsInput, responses={200: WithdrawalSerializer})
    def post(self, request, pk):
        limit(request, "withdrawal_factors")
        withdrawal = own_withdrawal(request, pk)
        data = FactorsInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            withdrawal = withdrawal_step_up_with_code(
                withdrawal=withdrawal, code=data.validated_data["mfa_code"], request=request
            )
            withdrawal = withdrawal_request_factors(withdrawal=withdrawal, request=request)
        except RateLimited as limited:
            raise TooManyRequests(f"Too many wrong authenticator codes; try again in {limited.retry_after} seconds.")
        except SecuritySetupRequired as setup:
            raise DomainError(f"The exchange needs two-factor authentication set up first: {setup.url}")
        except WithdrawalError as error:
            raise refused(error)
        return Response(WithdrawalSerializer(withdrawal).data)


@extend_schema(parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)])
class WithdrawalSubmit(APIView):
    @extend_schema(
        request=SubmitInput,
        responses={200: WithdrawalSerializer, 409: OpenApiResponse(description="The same key is in progress.")},
    )
    def post(self, request, pk):
        limit(request, "withdrawal_submit")
        withdrawal = own_withdrawal(request, pk)
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)

        def submit():
            try:
                sent = withdrawal_submit(
                    withdrawal_id=withdrawal.pk,
                    tenant=request.tenant,
                    user=request.user,
                    codes=data.validated_data["codes"],
                    request=request,
                )
            except WithdrawalError as error:
                raise refused(error)
            return Response(WithdrawalSerializer(sent).data)

        return idempotent(
            request, operation=f"withdrawal-submit:{withdrawal.pk}", secret_fields=("codes",), handle=submit
        )


def visible_jobs(request):
    return export_jobs_visible(tenant=request.tenant, user=request.user, membership=membership_of(request))


class ExportListCreate(generics.ListAPIView):
    serializer_class = ExportSerializer

    def get_queryset(self):
        return visible_jobs(self.request)

    @extend_schema(request=ExportCreateInput, responses={201: ExportSerializer})
    def post(self, request):
        limit(request, "export_request")
        data = ExportCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        membership = membership_of(request)
        scope_user = scope_connection = None
        if values.get("user"):
            scope_user = membership.tenant.memberships.filter(user_id=values["user"]).first() if membership else None
            scope_user = scope_user.user if scope_user else None
        if values.get("connection"):
            scope_connection = ExchangeConnection.objects.filter(tenant=request.tenant, pk=values["connection"]).first()
        try:
            job = export_request(
                tenant=request.tenant,
                user=request.user,
                membership=membership,
                scope=values["scope"],
                scope_user=scope_user,
                scope_connection=scope_connection,
                kinds=values["kinds"],
                export_format=values["format"],
                date_from=values["date_from"],
                date_to=values["date_to"],
                request=request,
            )
        except ExportError as error:
            raise DomainError(str(error))
        return Response(ExportSerializer(job).data, status=status.HTTP_201_CREATED)


class ExportDetail(generics.RetrieveAPIView):
    serializer_class = ExportSerializer

    def get_object(self):
        return get_for_tenant(visible_jobs(self.request), self.request.tenant, pk=self.kwargs["pk"])


class ExportDownload(APIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The export file."),
            410: OpenApiResponse(description="The link expired."),
        }
    )
    def get(self, request, pk):
        return download_response(request, get_for_tenant(visible_jobs(request), request.tenant, pk=pk))


class HistorySyncList(generics.ListAPIView):
    """Per connection the requester may export, and per kind of history: the range the portal holds complete.
    A tenant's staff see every connection of the tenant, so the list is paged by cursor, oldest connection first."""

    serializer_class = HistorySyncSerializer
    pagination_class = ByIdCursorPagination

    def get_queryset(self):
        return connections_exportable(
            tenant=self.request.tenant, user=self.request.user, membership=membership_of(self.request)
        )

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = [{"connection": connection, "coverage": sync_coverage(connection)} for connection in page]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)
