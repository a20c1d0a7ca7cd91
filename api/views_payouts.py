"""Payouts through the API, for the broker's back-end: the same services as the admin."""

from django.db.models import Prefetch
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from broker_portal.tenancy import get_for_tenant, membership_of
from exports.selectors import is_export_staff
from payouts import services
from payouts.models import Payout, PayoutBatch

from .errors import error_body
from .idempotency import idempotent
from .permissions import StaffMfaSetUp
from .serializers_payouts import PayoutBatchInput, PayoutBatchSerializer, PayoutSentInput, PayoutSerializer
from .views import IsBrokerAdmin

PERMISSIONS = [StaffMfaSetUp, IsBrokerAdmin]


class IsAccountingStaff(IsBrokerAdmin):
    """Broker admins and accountants: the accountant reads the payouts, only the broker admin makes them."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and is_export_staff(membership_of(request)))


def refused(error: services.PayoutError) -> Response:
    return Response(
        error_body(error.code, str(error), error.fields or None), status=status.HTTP_422_UNPROCESSABLE_ENTITY
    )


def batches(request):
    payouts = Prefetch("payouts", queryset=Payout.objects.select_related("connection", "deposit").order_by("pk"))
    return PayoutBatch.objects.filter(tenant=request.tenant).prefetch_related(payouts).order_by("-pk")


def tenant_payout(request, pk) -> Payout:
    return get_for_tenant(Payout.objects.select_related("connection", "deposit", "tenant"), request.tenant, pk=pk)


class PayoutBatchListCreate(generics.ListAPIView):
    serializer_class = PayoutBatchSerializer
    permission_classes = PERMISSIONS

    def get_queryset(self):
        return batches(self.request)

    @extend_schema(request=PayoutBatchInput, responses={201: PayoutBatchSerializer, 200: PayoutBatchSerializer})
    def post(self, request):
        """Create a batch (201). The same batch again, every reference already used for the same payout, answers
        the first one (200); a reference used for another payout is refused (422, ``reference_used``)."""

        def handle():
            data = PayoutBatchInput(data=request.data)
            data.is_valid(raise_exception=True)
            items = [
                services.PayoutItem(
                    connection_id=item["connection"],
                    asset=item["asset"],
                    network=item["network"],
                    amount=item["amount"],
                    reference=item["reference"],
                )
                for item in data.validated_data["payouts"]
            ]
            try:
                batch, created = services.payout_batch_create(
                    tenant=request.tenant,
                    name=data.validated_data["name"],
                    items=items,
                    actor=request.user,
                    request=request,
                )
            except services.PayoutError as error:
                return refused(error)
            return Response(
                PayoutBatchSerializer(batches(request).get(pk=batch.pk)).data,
                status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            )

        return idempotent(request, operation="payout_batch.create", handle=handle)


class PayoutBatchDetail(generics.RetrieveAPIView):
    serializer_class = PayoutBatchSerializer
    permission_classes = PERMISSIONS

    def get_object(self):
        return get_for_tenant(batches(self.request), self.request.tenant, pk=self.kwargs["pk"])


class PayoutBatchResolve(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(request=None, responses={200: PayoutBatchSerializer})
    def post(self, request, pk):
        """Resolve each unsent payout's deposit address now, at payout time: ``resolved`` with the address, or
        ``refused`` with the reason (a network mismatch, a missing permission)."""
        batch = get_for_tenant(PayoutBatch.objects.all(), request.tenant, pk=pk)
        services.payout_batch_resolve(batch=batch, request=request)
        return Response(PayoutBatchSerializer(batches(request).get(pk=batch.pk)).data)


class PayoutDetail(generics.RetrieveAPIView):
    serializer_class = PayoutSerializer
    permission_classes = PERMISSIONS

    def get_object(self):
        return tenant_payout(self.request, self.kwargs["pk"])


class PayoutSent(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(request=PayoutSentInput, responses={200: PayoutSerializer})
    def post(self, request, pk):
        """Record that the broker's wallet sent the payout, with its transaction id: the deposit must carry it."""
        payout = tenant_payout(request, pk)
        data = PayoutSentInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            payout = services.payout_record_sent(payout=payout, txid=data.validated_data["txid"], request=request)
        except services.PayoutError as error:
            return refused(error)
        return Response(PayoutSerializer(tenant_payout(request, payout.pk)).data)


class PayoutExport(APIView):
    permission_classes = [StaffMfaSetUp, IsAccountingStaff]

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(
                description="Every payout of the tenant, one row each, for the accountant."
            )
        }
    )
    def get(self, request):
        response = HttpResponse(
            services.payouts_export(tenant=request.tenant, request=request), content_type="text/csv"
        )
        name = f"{request.tenant.slug}-payouts-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
