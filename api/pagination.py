from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, LimitOffsetPagination


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """limit and offset as documented: a bad value is a 400, not silently the default."""

    max_limit = 500

    def paginate_queryset(self, queryset, request, view=None):
        errors = {}
        for name, minimum in ((self.limit_query_param, 1), (self.offset_query_param, 0)):
            raw = request.query_params.get(name)
            if raw is not None and not (raw.isdigit() and int(raw) >= minimum):
                errors[name] = [f"A whole number of at least {minimum}."]
        if errors:
            raise ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)


class StrictCursorPagination(CursorPagination):
    """For lists that run deep (a tenant's million audit events): each page is read from an opaque ``cursor``
    through the list's index, so page 20,000 costs what page 1 does (an offset reads and drops every row before
    it). ``limit`` sets the page size as it does elsewhere; there is no total count. A bad limit is a 400, a
    cursor that is not one of ours a 404."""

    page_size_query_param = "limit"
    max_page_size = 500
    ordering = ("-created_at", "-id")  # the position is the first field; ties are counted within it

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isdigit() and int(raw) >= 1):
            raise ValidationError({self.page_size_query_param: ["A whole number of at least 1."]})
        return super().get_page_size(request)


class ByIdCursorPagination(StrictCursorPagination):
    ordering = ("id",)
