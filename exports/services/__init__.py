"""The exports' writes by capability: ``sync`` (exchange history into the portal), ``jobs`` (an export from request
to file, and the housekeeping of jobs left behind), ``writers`` (the file itself and where it lives)."""
