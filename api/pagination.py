from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination


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
