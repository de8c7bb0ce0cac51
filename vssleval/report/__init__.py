"""vssleval.report: files a person reads, written from metric results and arrays.

* :func:`vssleval.report.single.write_run_outputs`: one run's ``metrics.json``, ``metrics.csv``,
  ``per_sample.csv``, ``report.md`` (and the juanola2025 compat files via :mod:`.compat`).
* :mod:`.multi` (``write_report``): the cross-run ``report.md``, figures and ``summary.csv`` of
  ``vssleval report`` (docs/report.md), from run directories loaded by :mod:`.runs`.
* :mod:`.html_page` (``write_html``): ``report.html``, that report as one page, its tables rendered
  from ``report.md`` by :mod:`.mdhtml` and its per-sample browser's rows and images from :mod:`.gallery`.

Imports only :mod:`vssleval.metrics` (and the small ``errors`` / ``io_utils`` / ``timing`` helpers); heatmap
stores and dataset images are opened by :mod:`vssleval.api.reporting` and handed over as arrays.

``vssleval.report`` is also the name of the API function :func:`vssleval.api.report` (docs/api.md);
the ``vssleval`` package keeps that name bound to the function (``vssleval/__init__.py``).
"""
