"""History sync: one module per exchange (what to call, how to page, how to read a row) over one paging loop."""
