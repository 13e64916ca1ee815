"""The API's endpoints in groups, one module each, every group sending through the client's one
:class:`~.._requester.Requester` (``client.positions``, ``client.instructions``, …)."""
