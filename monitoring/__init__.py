"""What operators and orchestrators ask of the portal: liveness, readiness and Prometheus metrics."""
