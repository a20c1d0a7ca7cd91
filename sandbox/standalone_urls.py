from django.urls import include, path

urlpatterns = [path("sandbox/", include("sandbox.urls"))]
