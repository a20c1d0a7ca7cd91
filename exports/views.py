"""Thin views: parse, call a service or selector, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from broker_portal.ratelimits import RateLimited, consume, too_many_requests
from broker_portal.tenancy import get_for_tenant, membership_of
from connectors.models import ExchangeConnection

from .formats import FORMATS
from .forms import ExportRequestForm, connection_label
from .models import ExportJob
from .selectors import (
    connections_exportable,
    connections_matching,
    export_jobs_visible,
    is_export_staff,
    last_synced_at,
    page_of,
    sync_coverage,
    synced_since,
    users_matching,
)
from .services.jobs import ExportError, ExportWouldBeEmpty, export_record_download, export_request
from .services.sync import sync_request
from .services.writers import export_path


def _job(request, job_id) -> ExportJob:
    jobs = export_jobs_visible(tenant=request.tenant, user=request.user, membership=membership_of(request))
    return get_for_tenant(jobs, request.tenant, pk=job_id)


@login_required
def export_index(request):
    membership = membership_of(request)
    if membership is None:
        raise Http404("Not found")
    staff = is_export_staff(membership)
    connections = connections_exportable(tenant=request.tenant, user=request.user, membership=membership)
    form = ExportRequestForm(
        request.POST or None,
        tenant=request.tenant,
        connections=connections,
        staff=staff,
        synced_since=synced_since(connections),
    )
    warned_empty = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            consume(request, "export_request")
        except RateLimited as limited:
            return too_many_requests(request, limited)
        try:
            job = export_request(
                tenant=request.tenant,
                user=request.user,
                membership=membership,
                scope=data["scope"],
                scope_user=data.get("user"),
                scope_connection=data.get("connection"),
                kinds=data["kinds"],
                export_format=data["format"],
                date_from=data["date_from"],
                date_to=data["date_to"],
                request=request,
                allow_empty=data["allow_empty"],
            )
        except ExportError as error:
            warned_empty = isinstance(error, ExportWouldBeEmpty)
            form.add_error(None, str(error))
        else:
            return redirect("exports:detail", job_id=job.pk)
    jobs = export_jobs_visible(tenant=request.tenant, user=request.user, membership=membership)[:50]
    query, page = request.GET.get("q", "").strip()[:100], page_number(request)
    shown, has_next = page_of(connections_matching(connections, query=query), page=page)
    synced = []
    for connection in shown:
        coverage = sync_coverage(connection)
        synced.append((connection, coverage, last_synced_at(coverage)))
    return render(
        request,
        "exports/index.html",
        {
            "form": form,
            "jobs": jobs,
            "connections": synced,
            "staff": staff,
            "now": timezone.now(),
            "warned_empty": warned_empty,
            "query": query,
            "page": page,
            "has_next": has_next,
        },
    )


def page_number(request) -> int:
    raw = request.GET.get("page", "")
    return min(int(raw), 10_000) if raw.isdigit() and int(raw) > 0 else 1


@login_required
@require_GET
def export_picker(request, kind):
    """The export form's suggestions: a page of the tenant's users (staff only) or of the connections this
    person may export, matching what was typed."""
    membership = membership_of(request)
    staff = is_export_staff(membership)
    if membership is None or not staff:
        raise Http404("Not found")
    query, page = request.GET.get("q", "")[:100], page_number(request)
    if kind == "users":
        rows, has_next = page_of(users_matching(tenant=request.tenant, query=query), page=page)
        results = [{"value": user.email, "label": user.email} for user in rows]
    elif kind == "connections":
        connections = connections_exportable(tenant=request.tenant, user=request.user, membership=membership)
        rows, has_next = page_of(connections_matching(connections.prefetch_related(None), query=query), page=page)
        results = [{"value": connection_label(c, staff=True), "label": connection_label(c, staff=True)} for c in rows]
    else:
        raise Http404("Not found")
    return JsonResponse({"results": results, "next_page": page + 1 if has_next else None})


@login_required
@require_GET
def export_detail(request, job_id):
    job = _job(request, job_id)
    return render(
        request,
        "exports/detail.html",
        {"job": job, "status": status_payload(job), "link_hours": settings.EXPORTS_LINK_HOURS},
    )


def status_payload(job: ExportJob) -> dict:
    ready = job.status == ExportJob.Status.DONE and job.expires_at and job.expires_at > timezone.now()
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
        "percent": job.progress_percent,
        "rows_written": job.rows_written,
        "rows_total": job.rows_total,
        "row_counts": job.row_counts,
        "sha256": job.sha256,
        "size_bytes": job.size_bytes,
        "error": job.error,
        "expires_at": job.expires_at.isoformat() if job.expires_at else None,
        "download_url": reverse("exports:download", args=[job.pk]) if ready else None,
    }


@login_required
@require_GET
def export_status(request, job_id):
    return JsonResponse(status_payload(_job(request, job_id)))


@login_required
@require_GET
def export_download(request, job_id):
    return download_response(request, _job(request, job_id))


def download_response(request, job: ExportJob):
    """The file, audited; a 410 once it expired. Shared by the page and the API."""
    if job.status != ExportJob.Status.DONE:
        raise Http404("Not found")
    path = export_path(job)
    if job.expires_at <= timezone.now() or not path.exists():
        return render(request, "exports/expired.html", {"job": job}, status=410)
    export_record_download(job=job, request=request)
    export_format = FORMATS[job.format]
    name = f"{job.tenant.slug}-{job.format}-{job.date_from}-{job.date_to}-{job.pk}.{export_format.extension}"
    response = FileResponse(
        open(path, "rb"), as_attachment=True, filename=name, content_type=export_format.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def history_sync(request, connection_id):
    membership = membership_of(request)
    connections = connections_exportable(tenant=request.tenant, user=request.user, membership=membership)
    connection = get_for_tenant(connections, request.tenant, pk=connection_id)
    if connection.status != ExchangeConnection.Status.ACTIVE:
        messages.warning(request, "Only active connections can be synced.")
    else:
        sync_request(connection=connection, request=request)
        messages.success(request, f"{connection.get_exchange_display()} history is being synced.")
    return redirect("exports:index")
