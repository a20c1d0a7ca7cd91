"""Writes of the withdrawal wizard, one module per capability, each step with its audit event.

``details`` (step 1), ``quote`` (the preview), ``step_up`` (the portal's MFA), ``factors`` (the exchange's security
check and 2FA), ``submit`` (exactly once), ``cancel``, ``reconcile`` (following a sent one and resolving "unknown"),
``limits`` (the exchange's and the broker's caps); ``exchange``, ``rows`` and ``errors`` are what they share.

Exchange calls happen outside database transactions, except where a row lock must cover them. Sending is
two-phase: under a row lock the row moves ``factors_requested → submitting`` (only one request can), that
commits, and only then the exchange is called. A timeout leaves ``unknown``, which only the exchange's
history resolves; nothing is sent again before that.
"""
